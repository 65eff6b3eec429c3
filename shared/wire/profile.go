package wire

import (
	"privacycore/shared/domain"
	"privacycore/shared/domain/profile"
	"privacycore/shared/http/profileapi"
	"privacycore/shared/registers/persontjenesten"
)

// ProfileAPI builds the profile function. Contact details come from the
// contact register's part of Persontjenesten, read on every view, never stored.
func ProfileAPI(env Env) (HTTPHandler, error) {
	keys, store, err := env.keysAndStore()
	if err != nil {
		return nil, err
	}
	reg, err := env.register()
	if err != nil {
		return nil, err
	}
	svc := &profile.Service{
		Records: store.Access,
		Store:   store.Profile, LoginStore: store.Logins, AppStore: store.Apps, Consents: store.Consent, Parents: store.Profile,
		Contacts: persontjenesten.Contacts{Client: reg},
		Now:      env.Now, NewID: domain.NewID,
	}
	rules, err := env.idRules()
	if err != nil {
		return nil, err
	}
	return env.checkCaller(rules, profileapi.New(svc, keys, env.logger()).Handle), nil
}

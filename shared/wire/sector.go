package wire

import (
	"privacycore/shared/domain"
	"privacycore/shared/domain/sectoraccess"
	"privacycore/shared/dynamo"
	"privacycore/shared/http/sectorapi"
	"privacycore/shared/http/sectorsettingsapi"
	"privacycore/shared/registers/gpregister"
)

func (e Env) sectorStore() (dynamo.SectorStore, error) {
	store, err := e.store()
	if err != nil {
		return dynamo.SectorStore{}, err
	}
	return store.Sector, nil
}

// SectorSettingsAPI builds the citizen's function for health personnel's
// access settings and research and registry choices.
func SectorSettingsAPI(env Env) (HTTPHandler, error) {
	keys, err := env.keyer()
	if err != nil {
		return nil, err
	}
	stores, err := env.store()
	if err != nil {
		return nil, err
	}
	svc := &sectoraccess.Service{Store: stores.Sector, Links: stores.Sector, Deaths: stores.Deaths, Now: env.Now, NewID: domain.NewID}
	rules, err := env.idRules()
	if err != nil {
		return nil, err
	}
	return env.checkCaller(rules, sectorsettingsapi.New(sectorsettingsapi.Handler{Service: svc, Keys: keys, IDs: rules, Log: env.logger()}).Handle), nil
}

// SectorAPI builds the health sector's function (scope sector:read):
// decisions and the FHIR view. The GP register is its stand-in
// (gpregister.Fake) until a real adapter exists.
func SectorAPI(env Env) (HTTPHandler, error) {
	keys, err := env.keyer()
	if err != nil {
		return nil, err
	}
	store, err := env.sectorStore()
	if err != nil {
		return nil, err
	}
	d := &sectoraccess.Decider{Store: store, GPs: gpregister.Fake{}, Keys: keys}
	rules, err := env.idRules()
	if err != nil {
		return nil, err
	}
	return sectorapi.New(sectorapi.Handler{Decider: d, IDs: rules, Metrics: env.Metrics(), Log: env.logger()}).Handle, nil
}

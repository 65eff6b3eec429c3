package wire

import (
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"privacycore/shared/domain"
	"privacycore/shared/domain/forms"
	"privacycore/shared/domain/settings"
	"privacycore/shared/dynamo"
	"privacycore/shared/http/formsapi"
	"privacycore/shared/http/settingsapi"
	"privacycore/shared/sqs/queue"
	"privacycore/shared/sqs/workers"
)

func (e Env) settingsService(store *dynamo.Stores) *settings.Service {
	return &settings.Service{Store: store.Settings, Records: store.Access, Now: e.Now, NewID: domain.NewID}
}

func (e Env) childRecordAge() (int, error) {
	v := e.Getenv("CHILD_PATIENT_RECORD_AGE")
	if v == "" {
		return settings.DefaultChildPatientRecordAge, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 18 {
		return 0, fmt.Errorf("CHILD_PATIENT_RECORD_AGE must be an age from 1 to 18, got %q", v)
	}
	return n, nil
}

// formLimits reads FORM_MAX_AGE_DAYS (template parameter FormMaxAgeDays).
func (e Env) formLimits() (forms.Limits, error) {
	v := e.Getenv("FORM_MAX_AGE_DAYS")
	if v == "" {
		return forms.Limits{MaxAgeDays: forms.DefaultMaxAgeDays}, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return forms.Limits{}, fmt.Errorf("FORM_MAX_AGE_DAYS must be a number of days of at least 1, got %q", v)
	}
	return forms.Limits{MaxAgeDays: n}, nil
}

// SettingsAPI builds the privacy-settings function.
func SettingsAPI(env Env) (HTTPHandler, error) {
	keys, store, err := env.keysAndStore()
	if err != nil {
		return nil, err
	}
	age, err := env.childRecordAge()
	if err != nil {
		return nil, err
	}
	rules, err := env.idRules()
	if err != nil {
		return nil, err
	}
	h := settingsapi.New(settingsapi.Handler{Settings: env.settingsService(store), Keys: keys, IDs: rules, ChildRecordAge: age, Log: env.logger()})
	return env.checkCaller(rules, h.Handle), nil
}

// FormsAPI builds the operators' paper-form function.
func FormsAPI(env Env) (HTTPHandler, error) {
	keys, store, err := env.keysAndStore()
	if err != nil {
		return nil, err
	}
	url, err := env.require("FORMS_QUEUE_URL")
	if err != nil {
		return nil, err
	}
	rules, err := env.idRules()
	if err != nil {
		return nil, err
	}
	lim, err := env.formLimits()
	if err != nil {
		return nil, err
	}
	in := &forms.Intake{Records: store.Forms, Queue: queue.Single{SQS: sqs.NewFromConfig(env.AWS), QueueURL: url}, Keys: keys, IDs: rules, Now: env.Now, Limits: lim}
	h := formsapi.New(formsapi.Handler{Forms: in, Log: env.logger()})
	return env.checkCaller(rules, h.Handle), nil
}

// FormsWorker builds the consumer that applies paper forms.
func FormsWorker(env Env) (SQSHandler, error) {
	store, err := env.store()
	if err != nil {
		return nil, err
	}
	age, err := env.childRecordAge()
	if err != nil {
		return nil, err
	}
	svc, err := env.withdrawingConsentService(store)
	if err != nil {
		return nil, err
	}
	p := &forms.Processor{Store: store.Forms, Deaths: store.Deaths, Settings: env.settingsService(store), Consents: svc, Now: env.Now, ChildRecordAge: age}
	return env.Metrics().SQS("forms-worker", (&workers.Forms{Processor: p, Log: env.logger()}).Handle), nil
}

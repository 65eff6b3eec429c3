package wire

import (
	"fmt"

	"privacycore/shared/domain/clock"
	"privacycore/shared/domain/nin"
	"privacycore/shared/http/httpapi"
)

// idRules reads which person ids the stack accepts. ALLOW_TEST_IDS is
// "true", "false" or "auto" (the template's default): auto allows synthetic
// test ids everywhere but in the prod stage. A birth date after today (Oslo,
// by the function's clock) is never accepted.
func (e Env) idRules() (nin.Rules, error) {
	r := nin.Rules{Today: clock.Today(e.Now)}
	switch v := e.Getenv("ALLOW_TEST_IDS"); v {
	case "true":
		r.AllowSynthetic = true
	case "false":
	case "", "auto":
		r.AllowSynthetic = e.Getenv("STAGE") != "prod"
	default:
		return nin.Rules{}, fmt.Errorf("ALLOW_TEST_IDS must be true, false or auto, got %q", v)
	}
	return r, nil
}

// checkCaller wraps an HTTP handler so tokens with a person id the stack
// does not accept are refused (401 invalid_token) before any route runs.
func (e Env) checkCaller(rules nin.Rules, h HTTPHandler) HTTPHandler {
	return httpapi.CheckCaller(rules, e.logger(), h)
}

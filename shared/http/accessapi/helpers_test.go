package accessapi_test

import (
	"time"

	"privacycore/shared/domain/consent"
)

func consentState(now time.Time) consent.State {
	return consent.State{Status: consent.StatusActive, Level: consent.Full, Version: 1, UpdatedAt: now, Channel: consent.ChannelPortal}
}

func consentEvent(now time.Time) consent.Event {
	return consent.Event{ID: "e1", At: now, Action: consent.ActionGive, Level: consent.Full, Channel: consent.ChannelPortal, Version: 1}
}

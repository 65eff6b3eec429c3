package metrics

import "context"

// The register feed's metrics. RegisterFeedLagAlarm (template.yaml) fires
// when the lag stays high, and when the feed stops reporting it.
const (
	RegisterFeedFunction    = "register-feed"
	RegisterFeedLag         = "RegisterFeedLag"         // register's latest sequence number minus the cursor
	RegisterFeedEvents      = "RegisterFeedEvents"      // events read
	RegisterFeedSent        = "RegisterFeedSent"        // notices sent to the notices queue
	RegisterFeedUnknown     = "RegisterFeedUnknown"     // notices not sent: nobody in them known to the core
	RegisterFeedDeadLetters = "RegisterFeedDeadLetters" // events sent to the feed's dead-letter queue
)

// FeedRun records one run of the register feed.
func (e *Emitter) FeedRun(ctx context.Context, events, sent, unknown, deadLetters int) {
	e.Emit(ctx, []Dim{{Function, RegisterFeedFunction}},
		Value{RegisterFeedEvents, Count, float64(events)}, Value{RegisterFeedSent, Count, float64(sent)},
		Value{RegisterFeedUnknown, Count, float64(unknown)}, Value{RegisterFeedDeadLetters, Count, float64(deadLetters)})
}

// FeedLag records how many sequence numbers the feed is behind the register.
func (e *Emitter) FeedLag(ctx context.Context, lag int64) {
	e.Emit(ctx, []Dim{{Function, RegisterFeedFunction}}, Value{RegisterFeedLag, Count, float64(lag)})
}

// The feed's metrics are among the names the code emits (the dashboard and
// alarm tests hold the template to Names).
func init() {
	Names = append(Names, RegisterFeedLag, RegisterFeedEvents, RegisterFeedSent, RegisterFeedUnknown, RegisterFeedDeadLetters)
}

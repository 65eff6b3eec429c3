package localrun

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"privacycore/infra/stack"
	"privacycore/shared/wire"
)

// Schedule adapts a typed scheduled-function constructor to a Builder.
func Schedule(build func(wire.Env) (wire.ScheduleHandler, error)) Builder {
	return func(e wire.Env) (any, error) {
		h, err := build(e)
		if err != nil {
			return nil, err
		}
		return wire.Observe(e, h), nil // as wire.Start does in Lambda
	}
}

// ErrUnknownFunction is returned by Trigger for a function the template
// does not have or that has no Schedule or ScheduleV2 event.
var ErrUnknownFunction = errors.New("no such scheduled function")

// schedule is one Schedule or ScheduleV2 event of one function. Locally a
// schedule never fires by itself; Trigger runs its function on demand.
type schedule struct {
	Function string
	stack.Schedule
	Handler wire.ScheduleHandler
}

// addSchedules records a function's schedules.
func (r *Runner) addSchedules(f stack.Function, h any) error {
	if len(f.Schedules) == 0 {
		return nil
	}
	sh, ok := h.(wire.ScheduleHandler)
	if !ok {
		return fmt.Errorf("function %s has Schedule events but its handler is %T", f.LogicalID, h)
	}
	for _, s := range f.Schedules {
		r.schedules = append(r.schedules, schedule{Function: f.LogicalID, Schedule: s, Handler: sh})
	}
	return nil
}

// Trigger runs a scheduled function now, as its schedule would, with a
// fresh Lambda request id on ctx, and returns what the function says it
// did. Schedules never fire by themselves locally. The error is the
// handler's, or wraps ErrUnknownFunction.
func (r *Runner) Trigger(ctx context.Context, function string) (wire.ScheduleResult, error) {
	_, res, err := r.trigger(ctx, function)
	return res, err
}

// trigger is Trigger that also returns the request id it used.
func (r *Runner) trigger(ctx context.Context, function string) (string, wire.ScheduleResult, error) {
	var h wire.ScheduleHandler
	for _, s := range r.schedules {
		if s.Function == function {
			h = s.Handler
			break
		}
	}
	if h == nil {
		if _, ok := r.Local.Function(function); ok {
			return "", nil, fmt.Errorf("%w: %s has no Schedule or ScheduleV2 event in the template", ErrUnknownFunction, function)
		}
		return "", nil, fmt.Errorf("%w: %q is not a function of the template", ErrUnknownFunction, function)
	}
	id := newRequestID()
	start := time.Now()
	res, err := invokeSchedule(lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: id}), h)
	attrs := []any{"function", function, "requestId", id, "durationMs", time.Since(start).Milliseconds(), "result", res}
	if err != nil {
		r.Log.Error("scheduled function failed", append(attrs, "err", err)...)
		return id, res, fmt.Errorf("%s: %w", function, err)
	}
	r.Log.Info("scheduled function ran", attrs...)
	if res == nil {
		res = wire.ScheduleResult{}
	}
	return id, res, nil
}

// invokeSchedule calls h; a panic is an invocation error, as in the Lambda runtime.
func invokeSchedule(ctx context.Context, h wire.ScheduleHandler) (res wire.ScheduleResult, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return h(ctx)
}

// ScheduleInfo describes a schedule of the template.
type ScheduleInfo struct {
	Function   string `json:"function"`
	Event      string `json:"event"`
	Expression string `json:"expression"`
	Timezone   string `json:"timezone"`
	// Trigger is the admin route that runs the function now.
	Trigger string `json:"trigger"`
}

// Schedules lists the template's schedules, in template order.
func (r *Runner) Schedules() []ScheduleInfo {
	out := make([]ScheduleInfo, 0, len(r.schedules))
	for _, s := range r.schedules {
		out = append(out, ScheduleInfo{
			Function: s.Function, Event: s.Event, Expression: s.Expression, Timezone: s.Timezone,
			Trigger: "POST " + adminPrefix + "schedules/" + s.Function,
		})
	}
	return out
}

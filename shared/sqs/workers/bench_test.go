package workers_test

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/infra/stack"
	"privacycore/infra/testenv"
	"privacycore/shared/domain/deletion"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/dynamo"
	"privacycore/shared/platform/obs"
	"privacycore/shared/wire"
)

// BenchmarkNoticeThroughput sends parental-responsibility notices through
// the worker (parse, ledger check, deceased checks, transaction, ledger
// record) and, in the same iteration, makes the same two writes (the
// relation transaction and the ledger put) from a bare loop. It reports
// notices per second for both and the slowdown (goal: <= 1.5).
func BenchmarkNoticeThroughput(b *testing.B) {
	const n = 100
	local := testenv.New(b)
	f, _ := local.Function("NoticeWorkerFunction")
	h, err := wire.NoticeWorker(wire.Env{AWS: local.AWS, Getenv: local.Getenv(f), Log: io.Discard, Now: time.Now})
	if err != nil {
		b.Fatal(err)
	}
	store := dynamo.NewStores(local.DynamoDB, local.Table("PrivacyTable"), time.Now)
	keys, _ := personkey.New([]byte(personkey.DevSecret))
	var workerTotal, bareTotal time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		parents, children := people(i*2*n, n), people(i*2*n+n, n)
		var batches []events.SQSEvent
		for j := 0; j < n; j += 10 {
			var ev events.SQSEvent
			for k := j; k < j+10; k++ {
				body := fmt.Sprintf(`{"version":1,"noticeId":"bench-%d-%d","type":"parental_responsibility_set","eventTime":"2026-11-20T08:00:00Z","parent":"%s","child":"%s"}`,
					i, k, parents[k].Digits(), children[k].Digits())
				ev.Records = append(ev.Records, events.SQSMessage{MessageId: strconv.Itoa(k), Body: body, Attributes: map[string]string{"SentTimestamp": "1795462200000"}})
			}
			batches = append(batches, ev)
		}
		// Worker and bare loop take turns, ten notices each, so both see the
		// same table size (the emulator's transactions slow as it grows).
		bp, bc := people(i*2*n+2*n*1000, n), people(i*2*n+2*n*1000+n, n)
		for j, ev := range batches {
			start := time.Now()
			b.StartTimer()
			if resp, _ := h(context.Background(), ev); len(resp.BatchItemFailures) > 0 {
				b.Fatalf("failures: %v", resp.BatchItemFailures)
			}
			b.StopTimer()
			workerTotal += time.Since(start)

			start = time.Now()
			for k := j * 10; k < j*10+10; k++ {
				if err := store.Relations.SetParent(context.Background(), keys.Key(bp[k]), keys.Key(bc[k]), bc[k].BirthDate(), time.Now()); err != nil {
					b.Fatal(err)
				}
				if err := store.Ledger.Record(context.Background(), fmt.Sprintf("bare-%d-%d", i, k), "parental_responsibility_set", "parental_responsibility_set", time.Now()); err != nil {
					b.Fatal(err)
				}
			}
			bareTotal += time.Since(start)
		}
		b.StartTimer()
	}
	total := float64(b.N * n)
	b.ReportMetric(total/workerTotal.Seconds(), "worker-notices/s")
	b.ReportMetric(total/bareTotal.Seconds(), "bare-notices/s")
	b.ReportMetric(workerTotal.Seconds()/bareTotal.Seconds(), "worker/bare")
}

// people returns n distinct synthetic person ids.
func people(offset, n int) []nin.ID {
	out := make([]nin.ID, 0, n)
	for i := 0; len(out) < n; i++ {
		d := nin.Date{Year: 1940 + (offset+i)%60, Month: time.Month(1 + (offset+i)/60%12), Day: 1 + (offset+i)/720%28}
		for ind := 100 + (offset+i)/20160%300; ind < 500; ind++ {
			if id, err := nin.Generate(d, ind, nin.BirthNumber, true); err == nil {
				out = append(out, id)
				break
			}
		}
	}
	return out
}

// scanCounter adds up the items each Query read (ScannedCount).
type scanCounter struct {
	dynamo.DB
	scanned, queries atomic.Int64
}

func (c *scanCounter) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := c.DB.Query(ctx, in, o...)
	if err == nil {
		c.scanned.Add(int64(out.ScannedCount))
		c.queries.Add(1)
	}
	return out, err
}

type discardQueue struct{}

func (discardQueue) SendPurges(context.Context, []string) error { return nil }

// BenchmarkSweepWith100kNotDue sweeps 10 due jobs among 100,000 jobs due
// next year, and the same 10 due jobs in a table with no other jobs, in one
// run: reads and time should follow the due jobs only.
func BenchmarkSweepWith100kNotDue(b *testing.B) {
	const due, notDue = 10, 100_000
	now := time.Date(2026, 12, 20, 12, 0, 0, 0, time.UTC)
	busy, empty := testenv.New(b), testenv.New(b)
	seedJobs(b, busy, "later", notDue, now.Add(365*24*time.Hour))
	var busyTotal, emptyTotal time.Duration
	var busyScanned, emptyScanned int64
	for i := 0; b.Loop(); i++ {
		for _, env := range []struct {
			local   *stack.Local
			total   *time.Duration
			scanned *int64
		}{{busy, &busyTotal, &busyScanned}, {empty, &emptyTotal, &emptyScanned}} {
			b.StopTimer()
			l := env.local
			seedJobs(b, l, fmt.Sprintf("due%d", i), due, now.Add(-time.Hour))
			c := &scanCounter{DB: l.DynamoDB}
			s := &deletion.Sweeper{Jobs: dynamo.NewStores(c, l.Table("PrivacyTable"), func() time.Time { return now }).Jobs, Queue: discardQueue{}, Now: func() time.Time { return now }, Log: obs.NewLogger(io.Discard, nil)}
			start := time.Now()
			b.StartTimer()
			n, err := s.Sweep(context.Background())
			b.StopTimer()
			*env.total += time.Since(start)
			*env.scanned += c.scanned.Load()
			if err != nil || n != due {
				b.Fatalf("sweep: %d %v, want %d", n, err, due)
			}
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(busyScanned)/float64(b.N), "items-read/sweep-100k")
	b.ReportMetric(float64(emptyScanned)/float64(b.N), "items-read/sweep-0")
	b.ReportMetric(busyTotal.Seconds()/emptyTotal.Seconds(), "time-100k/time-0")
}

func seedJobs(b *testing.B, l *stack.Local, prefix string, n int, dueAt time.Time) {
	b.Helper()
	seedJobsDB(b, l.DynamoDB, l.Table("PrivacyTable"), prefix, n, dueAt)
}

func seedJobsDB(b *testing.B, db *dynamodb.Client, table, prefix string, n int, dueAt time.Time) {
	b.Helper()
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	var reqs []types.WriteRequest
	flush := func() {
		pending := map[string][]types.WriteRequest{table: reqs}
		for len(pending[table]) > 0 {
			out, err := db.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				b.Fatal(err)
			}
			pending = out.UnprocessedItems
		}
		reqs = reqs[:0]
	}
	for i := range n {
		id := fmt.Sprintf("%s-%07d", prefix, i)
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
			"pk": s("JOB#" + id), "sk": s("JOB"), "jobId": s(id), "personKey": s("k" + id), "reason": s("death"),
			"status": s("pending"), "dueBucket": s("PENDING"), "dueAt": s(dueAt.UTC().Format("2006-01-02T15:04:05.000000000Z")),
			"createdAt": s("2026-11-20T00:00:00.000000000Z"),
		}}})
		if len(reqs) == 25 {
			flush()
		}
	}
	if len(reqs) > 0 {
		flush()
	}
}

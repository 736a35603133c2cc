package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/api"
	"github.com/runbot-dev/runbot/incidents"
)

// gatedStore records how many batches it files at once, by size. It is a
// fake on purpose: what is tested is the API's turn-taking, which a real
// store's speed would hide. A large batch is held until a single alert has
// been filed beside it (or a while has passed), so the test does not
// depend on how fast the machine parses.
type gatedStore struct {
	mu                   sync.Mutex
	large, maxLarge      int
	largeOnce, smallOnce sync.Once
	largeStarted         chan struct{}
	smallBesideLarge     chan struct{}
}

func newGatedStore() *gatedStore {
	return &gatedStore{largeStarted: make(chan struct{}), smallBesideLarge: make(chan struct{})}
}

func (g *gatedStore) IngestRepeats(ctx context.Context, as []incidents.Alert, _ []int) ([]incidents.Ingested, error) {
	big := len(as) > 100
	g.mu.Lock()
	if big {
		g.large++
		g.maxLarge = max(g.maxLarge, g.large)
	} else if g.large > 0 {
		g.smallOnce.Do(func() { close(g.smallBesideLarge) })
	}
	g.mu.Unlock()
	if big {
		g.largeOnce.Do(func() { close(g.largeStarted) })
		select {
		case <-g.smallBesideLarge:
		case <-time.After(5 * time.Second):
		}
		time.Sleep(10 * time.Millisecond) // a while for other large ones to try their luck
		g.mu.Lock()
		g.large--
		g.mu.Unlock()
	}
	return make([]incidents.Ingested, len(as)), nil
}

func (g *gatedStore) RecordTest(context.Context, incidents.TestReceived) error { return nil }

func (g *gatedStore) Postmortem(context.Context, int64, int) (*incidents.Postmortem, error) {
	return nil, incidents.Errorf(incidents.ENOTFOUND, "no post-mortem")
}

func (g *gatedStore) FindIncident(context.Context, int64) (*incidents.Incident, error) {
	return nil, nil
}
func (g *gatedStore) FindIncidents(context.Context, incidents.IncidentFilter) ([]*incidents.Incident, error) {
	return nil, nil
}

// TestLargeBodiesTakeTurns: large intake bodies are parsed and filed one
// per spare core, while small requests go in beside them.
func TestLargeBodiesTakeTurns(t *testing.T) {
	store := newGatedStore()
	srv := httptest.NewServer(api.New(api.Options{Incidents: store}))
	defer srv.Close()
	var b strings.Builder
	b.WriteString("[")
	for i := range 3000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"service":"svc-%d","summary":"failure number %d of a large batch","fingerprint":"fp-%d"}`, i, i, i)
	}
	b.WriteString("]")
	large := b.String()
	if len(large) < 256<<10 {
		t.Fatalf("the large body is only %d bytes", len(large))
	}
	post := func(body string) int {
		resp, err := http.Post(srv.URL+"/api/v1/alerts/generic", "application/json", strings.NewReader(body))
		if err != nil {
			t.Error(err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if code := post(large); code != 200 {
				t.Errorf("a large batch: %d", code)
			}
		})
	}
	wg.Go(func() {
		select {
		case <-store.largeStarted:
		case <-time.After(10 * time.Second):
			t.Error("no large batch reached the store")
		}
		if code := post(`{"service":"payments","summary":"down"}`); code != 200 {
			t.Errorf("a single alert: %d", code)
		}
	})
	wg.Wait()
	if want := max(1, runtime.GOMAXPROCS(0)-1); store.maxLarge > want {
		t.Errorf("%d large batches filed at once, want at most %d", store.maxLarge, want)
	}
	select {
	case <-store.smallBesideLarge:
	default:
		t.Error("no single alert was filed while a large batch was: small requests waited their turn")
	}
}

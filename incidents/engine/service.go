package engine

import (
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// Service runs runbot's use cases on a Store: every method is one
// transaction holding the state change, its timeline events, the
// messages they cause (outbox) and the incident's new deadlines (jobs).
type Service struct {
	store  Store
	policy incidents.Policy

	// RawAlertsPerIncident bounds the raw alerts kept per incident (newest
	// kept). Default 100.
	RawAlertsPerIncident int
	// RawRepeatEvery is how often an incident keeps a raw copy of an
	// alert identical to the newest it kept (same status, labels, payload
	// and the rest of what was parsed): forensics needs every distinct
	// payload, and the count, label breakdown and timeline say how many
	// copies came; a copy now and then shows they were still coming.
	// Zero keeps every alert.
	RawRepeatEvery time.Duration
	// IngestChunk is how many alerts of a batch go in one write
	// transaction (see IngestRepeats). Default 100.
	IngestChunk int
	// Now is the clock; tests replace it.
	Now func() time.Time
	// Platforms are the chat platforms that get every incident's thread.
	Platforms []string
	// Pagers are platforms that only take pages (a phone or SMS gateway
	// behind a webhook): direct messages, never threads.
	Pagers []string
	// StormExempt are platforms where every incident keeps a thread of its
	// own during a storm: the console, whose incident pages are its
	// threads, and which has no pace to keep.
	StormExempt []string
	// Catalog tells channels and replicas of services; nil knows nothing.
	Catalog incidents.Catalog
	// ObserveFired, when set, is told how late each deadline fired.
	ObserveFired func(key string, late time.Duration)

	kept keptAlerts
}

// maxKeptSums bounds the incidents whose last kept raw alert the service
// remembers: beyond it one is forgotten, and its next repeat is kept.
const maxKeptSums = 10000

// keptAlerts remembers, per incident, the sum of the newest raw alert kept
// and when it was kept, as of committed transactions. It is this
// process's memory only: after a restart, or beside another replica, an
// incident keeps one more copy, never one fewer.
type keptAlerts struct {
	seed maphash.Seed
	mu   sync.Mutex
	last map[int64]keptAlert
}

type keptAlert struct {
	incidentID int64
	sum        uint64
	at         time.Time
}

// sum is a digest of everything a raw alert and its parsing say.
func (k *keptAlerts) sum(a incidents.Alert) uint64 {
	var h maphash.Hash
	h.SetSeed(k.seed)
	for _, s := range []string{a.Source, a.Fingerprint, a.Service, a.Operation, a.Title, a.Severity, string(a.Status),
		a.Payload, a.Description} {
		h.WriteString(s)
		h.WriteByte(0)
	}
	maphash.WriteComparable(&h, a.Priority)
	maphash.WriteComparable(&h, a.Truncated)
	maphash.WriteComparable(&h, a.StartsAt.UnixNano())
	names := make([]string, 0, len(a.Labels))
	for name := range a.Labels {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		h.WriteString(name)
		h.WriteByte(0)
		h.WriteString(a.Labels[name])
		h.WriteByte(0)
	}
	return h.Sum64()
}

// fresh reports whether an alert of an incident says something the newest
// kept copy does not, or that copy is every old or older.
func (k *keptAlerts) fresh(incidentID int64, sum uint64, now time.Time, every time.Duration) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	last, ok := k.last[incidentID]
	return !ok || last.sum != sum || now.Sub(last.at) >= every
}

// remember records copies kept by a committed transaction.
func (k *keptAlerts) remember(kept []keptAlert) {
	if len(kept) == 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.last == nil {
		k.last = make(map[int64]keptAlert)
	}
	for _, c := range kept {
		if _, ok := k.last[c.incidentID]; !ok && len(k.last) >= maxKeptSums {
			for id := range k.last { // any one: it costs one more copy kept
				delete(k.last, id)
				break
			}
		}
		k.last[c.incidentID] = c
	}
}

// forget drops what is remembered of incidents whose raw alerts another
// change moved: their newest kept copy is no longer the one remembered.
func (k *keptAlerts) forget(ids ...int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, id := range ids {
		delete(k.last, id)
	}
}

// New returns the service over a store with a policy.
func New(store Store, policy incidents.Policy) *Service {
	return &Service{store: store, policy: policy, RawAlertsPerIncident: 100, IngestChunk: 100, Now: time.Now,
		kept: keptAlerts{seed: maphash.MakeSeed()}}
}

// Policy is the policy the service applies.
func (s *Service) Policy() incidents.Policy { return s.policy }

// now is the clock at the stores' precision (milliseconds, UTC).
func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

func (s *Service) channelFor(service string) string {
	if s.Catalog == nil {
		return ""
	}
	return s.Catalog.Channel(service)
}

// Ingest files alerts into incidents, in order, and returns once they are
// committed; see IngestRepeats.
func (s *Service) Ingest(ctx context.Context, alerts []incidents.Alert) ([]incidents.Ingested, error) {
	return s.IngestRepeats(ctx, alerts, nil)
}

// IngestRepeats files alerts into incidents, in order, where alerts[i]
// stands for repeats[i] copies of itself sent together (nil: one each; see
// alerts.Batch). The copies count and join the label breakdown as that
// many alerts would, but cost one alert's writes: one row update, one raw
// alert kept, and no timeline entry beyond what the first copy makes.
//
// The alerts are committed IngestChunk at a time, each chunk a
// transaction of its own (which a store may share with concurrent
// writers): the writes of other requests go in between two chunks
// instead of waiting for the whole batch. It returns once every chunk is
// committed. When one fails, the chunks before it stay committed and the
// error comes with their results, a prefix of the batch's; sending the
// whole batch again files nothing twice, as its alerts join their
// incidents by fingerprint.
func (s *Service) IngestRepeats(ctx context.Context, alerts []incidents.Alert, repeats []int) ([]incidents.Ingested, error) {
	if repeats != nil && len(repeats) != len(alerts) {
		return nil, fmt.Errorf("storing alerts: %d repeat counts for %d alerts", len(repeats), len(alerts))
	}
	chunk := s.IngestChunk
	if chunk <= 0 {
		chunk = 100
	}
	out := make([]incidents.Ingested, len(alerts))
	var kept []keptAlert
	for start := 0; start < len(alerts); start += chunk {
		end := min(start+chunk, len(alerts))
		err := ctx.Err()
		if err == nil {
			err = s.store.Update(ctx, func(tx Tx) error {
				// fn may run again: only the copies of the run that
				// commits are remembered.
				kept = kept[:0]
				now := s.now()
				for i := start; i < end; i++ {
					n := 1
					if repeats != nil {
						n = max(repeats[i], 1)
					}
					r, err := s.ingestKeeping(tx, alerts[i], n, now, &kept)
					if err != nil {
						return fmt.Errorf("filing alert %s from %s: %w", alerts[i].Fingerprint, alerts[i].Source, err)
					}
					out[i] = r
				}
				return nil
			})
		}
		if err != nil {
			return out[:start], fmt.Errorf("storing alerts: %w", err)
		}
		s.kept.remember(kept)
	}
	return out, nil
}

// repeatJoin counts n more copies of a firing alert that came with one
// already filed, at the same moment: as many alerts, their labels in the
// breakdown n more times, and nothing to tell that the first copy did not.
func repeatJoin(inc *incidents.Incident, a incidents.Alert, n int) {
	if n <= 0 || a.Status != incidents.AlertFiring {
		return // a resolution repeated is the same resolution
	}
	inc.AlertCount += n
	// The first copy put in the breakdown every label a copy would count
	// (the others it had no room for); each is counted n times more.
	for name, v := range a.Labels {
		if _, ok := inc.Labels[name]; !ok {
			continue
		}
		more := incidents.LabelCounts{}
		more.Add(map[string]string{name: v})
		if vals := more[name]; len(vals) == 1 {
			vals[0].Count = n
			inc.Labels.Merge(more)
		}
	}
}

// ingest files one alert standing for n copies of itself (n >= 1): into
// the fingerprint's active incident, the incident it was merged into, or
// the incident people resolved that a late resolution is about; else it
// opens one, under a silence, in a storm, or with a thread of its own.
// Its raw alert is kept.
func (s *Service) ingest(tx Tx, a incidents.Alert, n int, now time.Time) (incidents.Ingested, error) {
	return s.ingestKeeping(tx, a, n, now, nil)
}

// ingestKeeping is ingest where a repeat's raw alert is kept only when it
// says something new or RawRepeatEvery has passed (see keptAlerts), the
// copies kept appended to kept for remembering once committed; with kept
// nil every raw alert is kept and nothing remembered.
func (s *Service) ingestKeeping(tx Tx, a incidents.Alert, n int, now time.Time, kept *[]keptAlert) (incidents.Ingested, error) {
	if namer, ok := s.Catalog.(incidents.Namer); ok {
		a.Service = namer.Canonical(a.Service)
	}
	inc, err := tx.ActiveIncident(a.Fingerprint)
	if err != nil {
		return incidents.Ingested{}, err
	}
	if inc == nil && a.Status == incidents.AlertFiring {
		// A resolution is left to the fingerprint's own incident (below):
		// the merged one still has alerts of its own firing.
		if inc, err = mergedTarget(tx, a.Fingerprint); err != nil {
			return incidents.Ingested{}, err
		}
	}
	if inc == nil && a.Status == incidents.AlertResolved {
		// A resolution for an incident people already resolved joins that
		// incident; one that started after it is news of its own.
		last, err := tx.LatestIncident(a.Fingerprint)
		if err != nil {
			return incidents.Ingested{}, err
		}
		if last != nil && (a.StartsAt.IsZero() || !a.StartsAt.After(last.ResolvedAt)) {
			inc = last
		}
	}
	sil, err := silenceFor(tx, a, now)
	if err != nil {
		return incidents.Ingested{}, err
	}
	if inc == nil {
		return s.open(tx, a, n, sil, now, kept)
	}
	if sil != nil {
		if err := tx.CountSilenced(sil.ID, 0); err != nil {
			return incidents.Ingested{}, err
		}
	}
	noticeDue := inc.NoticeDue
	// Only resolutions at source move the flapping deadlines: the hot
	// path of plain repeats skips comparing schedules.
	var before []incidents.Deadline
	flappy := a.Status == incidents.AlertResolved || inc.IsFlapping()
	if flappy {
		before = inc.Deadlines(s.policy)
	}
	counted := inc.AlertCount
	events := inc.Join(a, now, s.policy)
	if e, ok := incidents.TruncationEvent(inc, a, now); ok {
		// Alertmanager says it again at every group_interval: a count
		// already in the timeline is no news.
		told, err := tx.HasEvent(inc.ID, e.Kind, e.Text)
		if err != nil {
			return incidents.Ingested{}, err
		}
		if !told {
			events = append(events, e)
		}
	}
	repeatJoin(inc, a, n-1)
	if err := tx.UpdateJoined(inc); err != nil {
		return incidents.Ingested{}, err
	}
	if flappy {
		if err := syncJobs(tx, inc.ID, before, inc.Deadlines(s.policy), now); err != nil {
			return incidents.Ingested{}, err
		}
	}
	if len(events) > 0 {
		if err := s.record(tx, inc, events, now); err != nil {
			return incidents.Ingested{}, err
		}
	}
	// Repeats schedule at most one notice per interval: only a new
	// notice changes the incident's deadlines.
	if !inc.NoticeDue.Equal(noticeDue) && !inc.NoticeDue.IsZero() {
		key := "notice/" + strconv.FormatInt(inc.NoticeDue.UnixMilli(), 10)
		if err := tx.AddJob(Job{IncidentID: inc.ID, Key: key, Due: inc.NoticeDue}); err != nil {
			return incidents.Ingested{}, fmt.Errorf("scheduling repeat notice: %w", err)
		}
	}
	if err := s.keepRepeat(tx, inc.ID, a, now, kept); err != nil {
		return incidents.Ingested{}, err
	}
	// Pruning every alert would double the writes of a storm; every 16th
	// keeps the table within retention plus 16 rows per incident. Repeats
	// counted at once may step over the 16th: crossing it is what counts.
	if inc.AlertCount%16 == 0 || inc.AlertCount/16 != counted/16 {
		if err := tx.PruneAlerts(inc.ID, s.RawAlertsPerIncident); err != nil {
			return incidents.Ingested{}, err
		}
	}
	return incidents.Ingested{IncidentID: inc.ID}, nil
}

// open opens an incident for an alert standing for n copies of itself,
// under sil when not nil; its raw alert is kept, and noted in kept when
// not nil.
func (s *Service) open(tx Tx, a incidents.Alert, n int, sil *incidents.Silence, now time.Time, kept *[]keptAlert) (incidents.Ingested, error) {
	inc, events := incidents.Open(a, now, s.policy)
	if e, ok := incidents.TruncationEvent(inc, a, now); ok {
		events = append(events, e)
	}
	if n > 1 && a.Status == incidents.AlertFiring {
		// The second copy joins as it would on its own (it schedules
		// the repeat notice); the rest are counted.
		events = append(events, inc.Join(a, now, s.policy)...)
		repeatJoin(inc, a, n-2)
	}
	inc.Channel = s.channelFor(inc.Service)
	var storm *stormOpening
	var err error
	if sil != nil {
		inc.SilenceID = sil.ID
		events = append(events, incidents.Event{At: now, Kind: incidents.EventSnoozed, Actor: incidents.Actor,
			Text: fmt.Sprintf("opened under silence #%d (%s): no thread until it ends", sil.ID, sil.Matcher)})
	} else if storm, err = s.stormFor(tx, inc, now); err != nil {
		return incidents.Ingested{}, err
	}
	if err := tx.InsertIncident(inc); err != nil {
		return incidents.Ingested{}, err
	}
	if sil != nil {
		if err := tx.CountSilenced(sil.ID, 1); err != nil {
			return incidents.Ingested{}, err
		}
	}
	if storm != nil {
		// Before the incident's own messages: its replies go in the
		// storm's thread, whose root must come first in the channel.
		if err := s.tellStorm(tx, storm, inc, now); err != nil {
			return incidents.Ingested{}, err
		}
	}
	if err := s.record(tx, inc, events, now); err != nil {
		return incidents.Ingested{}, err
	}
	if err := syncJobs(tx, inc.ID, nil, inc.Deadlines(s.policy), now); err != nil {
		return incidents.Ingested{}, err
	}
	if err := tx.KeepAlert(inc.ID, a, now); err != nil {
		return incidents.Ingested{}, err
	}
	if kept != nil && s.RawRepeatEvery > 0 {
		*kept = append(*kept, keptAlert{incidentID: inc.ID, sum: s.kept.sum(a), at: now})
	}
	return incidents.Ingested{IncidentID: inc.ID, Opened: true}, nil
}

// keepRepeat keeps the raw alert of a repeat unless it is the same as the
// newest kept for the incident, kept less than RawRepeatEvery ago: the
// row insert is half of what the store spends on a repeat.
func (s *Service) keepRepeat(tx Tx, incidentID int64, a incidents.Alert, now time.Time, kept *[]keptAlert) error {
	if kept == nil || s.RawRepeatEvery <= 0 {
		return tx.KeepAlert(incidentID, a, now)
	}
	sum := s.kept.sum(a)
	// An earlier alert of the same transaction counts as kept too.
	for i := len(*kept) - 1; i >= 0; i-- {
		if c := (*kept)[i]; c.incidentID == incidentID {
			if c.sum == sum && now.Sub(c.at) < s.RawRepeatEvery {
				return nil
			}
			return s.keepNoted(tx, incidentID, a, sum, now, kept)
		}
	}
	if !s.kept.fresh(incidentID, sum, now, s.RawRepeatEvery) {
		return nil
	}
	return s.keepNoted(tx, incidentID, a, sum, now, kept)
}

func (s *Service) keepNoted(tx Tx, incidentID int64, a incidents.Alert, sum uint64, now time.Time, kept *[]keptAlert) error {
	if err := tx.KeepAlert(incidentID, a, now); err != nil {
		return err
	}
	*kept = append(*kept, keptAlert{incidentID: incidentID, sum: sum, at: now})
	return nil
}

// maxMergeChain bounds how far a merge chain (A into B, B into C...) is
// followed; a chain cannot loop (Merge refuses cycles), this is a guard.
const maxMergeChain = 64

// mergedTarget finds where a fingerprint files when its latest incident
// was merged into another: the end of the merge chain, while that one is
// active; nil otherwise.
func mergedTarget(tx Tx, fp string) (*incidents.Incident, error) {
	into, err := tx.MergedInto(fp)
	if err != nil {
		return nil, err
	}
	for hops := 0; into != 0 && hops < maxMergeChain; hops++ {
		inc, err := tx.Incident(into)
		if err != nil {
			return nil, err
		}
		if inc.State.Active() {
			return inc, nil
		}
		into = inc.MergedInto
	}
	return nil, nil
}

// record stores what a change caused: the events and the messages they
// call for on every platform.
func (s *Service) record(tx Tx, inc *incidents.Incident, events []incidents.Event, now time.Time) error {
	opened, err := insertEvents(tx, inc, events)
	if err != nil {
		return err
	}
	return s.enqueue(tx, inc, events, opened, false, now)
}

// insertEvents adds events to an incident's timeline, setting their ids;
// opened says one of them is its opening.
func insertEvents(tx Tx, inc *incidents.Incident, events []incidents.Event) (opened bool, err error) {
	for i := range events {
		e := &events[i]
		e.IncidentID = inc.ID
		if err := tx.InsertEvent(e); err != nil {
			return false, err
		}
		opened = opened || e.Kind == incidents.EventOpened
	}
	return opened, nil
}

// queue queues an intent created now.
func queue(tx Tx, it incidents.Intent, now time.Time) error {
	it.CreatedAt, it.NotBefore = now, now
	return tx.Queue(&it)
}

// enqueue writes the messages the events call for, on every platform:
// who hears what. With digested, the replies that would go in a storm's
// thread are left to the storm's digest (recordDigested).
func (s *Service) enqueue(tx Tx, inc *incidents.Incident, events []incidents.Event, opened, digested bool, now time.Time) error {
	if len(s.Platforms) == 0 && len(s.Pagers) == 0 || inc.SilenceID != 0 {
		return nil // a silenced incident gets its thread when the silence ends
	}
	notices := make([]incidents.Notice, len(events))
	update := false
	for i, e := range events {
		notices[i] = s.policy.NoticeFor(inc, e)
		update = update || notices[i].Update
	}
	var rootAudience incidents.Audience
	if opened && len(s.Platforms) > 0 {
		var err error
		if rootAudience, err = s.openingAudience(tx, inc, now); err != nil {
			return err
		}
	}
	// While a storm is under way in the channel, it has called the channel
	// for everything in it: the burst's first incidents, which keep their
	// own threads, do not call it again either.
	calm := inc.StormID != 0
	if !calm && slices.ContainsFunc(notices, func(n incidents.Notice) bool { return n.Reply && n.Mention.Channel }) {
		var err error
		if calm, err = s.stormUnderWay(tx, inc.Channel, now); err != nil {
			return err
		}
	}
	own := incidents.Intent{Channel: inc.Channel, IncidentID: inc.ID}
	storms := incidents.Intent{Channel: inc.Channel, StormID: inc.StormID}
	for _, platform := range s.Platforms {
		own.Platform, storms.Platform = platform, platform
		folded := s.folds(inc, platform)
		// The card first, then the replies: a reply reads against a card
		// that already shows what it tells. An incident of a storm has no
		// card there: the storm's root, edited, counts it instead.
		var err error
		switch {
		case opened && folded: // the storm's messages tell of it (tellStorm)
		case opened:
			err = queue(tx, with(own, incidents.IntentRoot, 0, rootAudience, ""), now)
		case update && folded:
			err = queue(tx, with(storms, incidents.IntentUpdate, 0, incidents.Audience{}, ""), now)
		case update:
			err = queue(tx, with(own, incidents.IntentUpdate, 0, incidents.Audience{}, ""), now)
		}
		if err != nil {
			return err
		}
		for i, e := range events {
			if !notices[i].Reply || (e.Origin != "" && e.Origin == platform) {
				continue // a person's thread reply is already on their platform
			}
			if folded && digested {
				continue // one reply for the storm tells it with the others
			}
			mention := notices[i].Mention
			mention.Channel = mention.Channel && !calm
			reply := with(own, incidents.IntentReply, e.ID, mention, e.Document)
			if folded {
				reply.StormID = inc.StormID
			}
			if err := queue(tx, reply, now); err != nil {
				return err
			}
		}
	}
	// Pages go to each person on every platform that can reach them: a
	// phone gateway and the chat both, since either may be the one heard.
	for i, e := range events {
		for _, who := range notices[i].Direct {
			for _, platform := range slices.Concat(s.Platforms, s.Pagers) {
				page := incidents.Intent{Platform: platform, Channel: "@" + who, Kind: incidents.IntentDirect, IncidentID: inc.ID,
					EventID: e.ID, Audience: incidents.Audience{Users: []string{who}}}
				if err := queue(tx, page, now); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// with is an intent of a thread (its platform, channel, incident or
// storm) of a kind, about an event, calling an audience, with a text.
func with(thread incidents.Intent, kind incidents.IntentKind, eventID int64, aud incidents.Audience, text string) incidents.Intent {
	thread.Kind, thread.EventID, thread.Audience, thread.Text = kind, eventID, aud, text
	return thread
}

// syncJobs keeps an incident's pending jobs equal to its deadlines. A new
// deadline already past is not scheduled: the change that caused it said
// what was needed (a requalification records its own breach).
func syncJobs(tx Tx, incidentID int64, before, after []incidents.Deadline, now time.Time) error {
	if incidents.SameDeadlines(before, after) {
		return nil
	}
	keep := make(map[string]bool, len(after))
	for _, d := range after {
		keep[d.Key] = true
	}
	for _, d := range before {
		if !keep[d.Key] {
			if err := tx.DropJob(incidentID, d.Key); err != nil {
				return err
			}
		}
	}
	had := make(map[string]bool, len(before))
	for _, d := range before {
		had[d.Key] = true
	}
	var add []Job
	for _, d := range after {
		if had[d.Key] || d.At.Before(now) {
			continue
		}
		add = append(add, Job{IncidentID: incidentID, Key: d.Key, Due: d.At})
	}
	if len(add) == 0 {
		return nil
	}
	return tx.AddJob(add...)
}

// Package runweek answers who is on duty: the RUN person of the week
// during working hours, the on-call person at night and on weekends, with
// the overrides people set (/run swap, /run set) kept in the store.
package runweek

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/rota"
)

// Store keeps overrides.
type Store interface {
	Add(ctx context.Context, rotation string, list []rota.Override) error
	List(ctx context.Context, rotation string, since time.Time) ([]rota.Override, error)
}

// Rotation names in the store.
const (
	Run    = "run"
	OnCall = "oncall"
)

// Duty knows who is on duty. Overrides are read once and after each
// change, so asking costs no query: reminders ask for every message.
type Duty struct {
	run, oncall rota.Rotation
	calendar    rota.Calendar
	store       Store
	// fallback is on RUN when no rotation is configured (run_person).
	fallback string

	mu        sync.Mutex
	overrides map[string][]rota.Override
}

// New builds a Duty; a rotation without members is not configured.
func New(run, oncall rota.Rotation, calendar rota.Calendar, store Store, fallback string) *Duty {
	return &Duty{run: run, oncall: oncall, calendar: calendar, store: store, fallback: fallback, overrides: map[string][]rota.Override{}}
}

// Load reads the overrides still to come.
func (d *Duty) Load(ctx context.Context, now time.Time) error {
	for _, name := range []string{Run, OnCall} {
		list, err := d.store.List(ctx, name, now.Add(-31*24*time.Hour))
		if err != nil {
			return err
		}
		d.mu.Lock()
		d.overrides[name] = list
		d.mu.Unlock()
	}
	return nil
}

func (d *Duty) list(name string) []rota.Override {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.overrides[name]
}

// HasRotation reports whether a RUN rotation is configured.
func (d *Duty) HasRotation() bool { return len(d.run.Members) > 0 }

// RunShift is the RUN shift at t; its Person is "" when nobody is known.
func (d *Duty) RunShift(t time.Time) rota.Shift {
	if !d.HasRotation() {
		return rota.Shift{Person: d.fallback}
	}
	return d.run.OnDuty(t, d.list(Run))
}

// NextRunShift is who takes RUN after the shift at t.
func (d *Duty) NextRunShift(t time.Time) rota.Shift {
	if !d.HasRotation() {
		return rota.Shift{}
	}
	return d.run.Next(t, d.list(Run))
}

// OnCallShift is the night-and-weekend shift at t ("" when none).
func (d *Duty) OnCallShift(t time.Time) rota.Shift {
	if len(d.oncall.Members) == 0 {
		return rota.Shift{}
	}
	return d.oncall.OnDuty(t, d.list(OnCall))
}

// Working reports whether t is within the team's working hours.
func (d *Duty) Working(t time.Time) bool { return d.calendar.Working(t) }

// Responder is who runbot calls at t: the RUN person during working
// hours, the on-call person outside them (when there is an on-call
// rotation), else the RUN person.
func (d *Duty) Responder(t time.Time) string {
	if !d.Working(t) {
		if p := d.OnCallShift(t).Person; p != "" {
			return p
		}
	}
	return d.RunShift(t).Person
}

// Swap exchanges the next RUN weeks of a and b.
func (d *Duty) Swap(ctx context.Context, a, b, by string, now time.Time) ([]rota.Override, error) {
	if !d.HasRotation() {
		return nil, fmt.Errorf("no rotation is configured: add rotation: {members: [...], start: ..., handover: \"Monday 09:00\"} to the config")
	}
	list, err := d.run.Swap(a, b, now)
	if err != nil {
		return nil, err
	}
	for i := range list {
		list[i].By, list[i].Reason = by, fmt.Sprintf("swap of %s and %s", a, b)
	}
	return list, d.add(ctx, Run, list, now)
}

// Set puts person on RUN from now until until.
func (d *Duty) Set(ctx context.Context, person string, now, until time.Time, by, reason string) (rota.Override, error) {
	if !until.After(now) {
		return rota.Override{}, fmt.Errorf("the override must end after now")
	}
	ov := rota.Override{Person: person, From: now, Until: until, By: by, Reason: reason}
	return ov, d.add(ctx, Run, []rota.Override{ov}, now)
}

func (d *Duty) add(ctx context.Context, name string, list []rota.Override, now time.Time) error {
	if err := d.store.Add(ctx, name, list); err != nil {
		return err
	}
	return d.Load(ctx, now)
}

// HasOnCall reports whether a night-and-weekend rotation is configured.
func (d *Duty) HasOnCall() bool { return len(d.oncall.Members) > 0 }

// Secondary is who is paged when the on-call person at t does not answer:
// the next on-call person in turn, else another member of the rotation,
// else the RUN person of the week. "" when nobody else is known.
func (d *Duty) Secondary(t time.Time) string {
	primary := d.OnCallShift(t).Person
	if next := d.oncall.Next(t, d.list(OnCall)).Person; next != "" && next != primary {
		return next
	}
	for _, m := range d.oncall.Members {
		if m != primary {
			return m
		}
	}
	if p := d.RunShift(t).Person; p != primary {
		return p
	}
	return ""
}

// Paging is the night regime for the incident policy: nil functions (no
// paging) without an on-call rotation.
func (d *Duty) Paging(repeat, secondaryAfter time.Duration) incidents.Paging {
	if !d.HasOnCall() {
		return incidents.Paging{}
	}
	return incidents.Paging{Working: d.Working, OnCall: func(t time.Time) string { return d.OnCallShift(t).Person },
		Secondary: d.Secondary, Repeat: repeat, SecondaryAfter: secondaryAfter}
}

// Week is the RUN week around t as the rotation schedules it, overrides
// aside: what a handover summarises. Zero without a rotation.
func (d *Duty) Week(t time.Time) (from, until time.Time) {
	if !d.HasRotation() {
		return time.Time{}, time.Time{}
	}
	s := d.run.Scheduled(t)
	return s.From, s.Until
}

package storetest

import (
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// NotStored are the fields of Incident that are no part of its row:
// single-incident lookups fill them from elsewhere.
var NotStored = []string{"Timeline", "Linked"}

// FixedFields are the fields an update leaves as the insert wrote them
// (engine.IncidentTx.UpdateIncident).
var FixedFields = []string{"ID", "Fingerprint", "Source", "OpenedAt", "StartedAt", "StormID"}

// Filler sets every stored field of an Incident to a value of its own,
// by reflection, so that a field added to Incident and forgotten by a
// store fails the round trip instead of reading back as zero.
type Filler struct {
	next int64
	// OnlyBool, when >= 0, is the one bool field (by its order among the
	// bools) set true, the others false; -1 sets them all. A bool has
	// one non-zero value: two bool columns swapped show only when they
	// differ.
	OnlyBool int
}

// Bools counts Incident's bool fields.
func (f *Filler) Bools() int {
	n := 0
	for _, field := range reflect.VisibleFields(reflect.TypeFor[incidents.Incident]()) {
		if field.Type.Kind() == reflect.Bool {
			n++
		}
	}
	return n
}

// Fill returns an incident with every stored field set, each to a value
// no other field and no earlier Fill has.
func (f *Filler) Fill(t testing.TB) *incidents.Incident {
	t.Helper()
	inc := &incidents.Incident{}
	v := reflect.ValueOf(inc).Elem()
	bools := 0
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		if slices.Contains(NotStored, name) {
			continue
		}
		f.next++
		n := f.next
		field := v.Field(i)
		switch field.Interface().(type) {
		case incidents.Priority:
			field.Set(reflect.ValueOf(incidents.Priority(1 + n%5))) // P1..P5 only
			continue
		case incidents.State:
			field.Set(reflect.ValueOf(incidents.StateMitigated)) // active, with every time set
			continue
		case time.Time:
			field.Set(reflect.ValueOf(time.UnixMilli(1_700_000_000_000 + n*60_000 + n).UTC()))
			continue
		case []time.Time:
			field.Set(reflect.ValueOf([]time.Time{time.UnixMilli(1_600_000_000_000 + n).UTC(), time.UnixMilli(1_600_000_001_000 + n).UTC()}))
			continue
		case incidents.LabelCounts:
			field.Set(reflect.ValueOf(incidents.LabelCounts{"pod": {{Value: "pod-" + strconv.FormatInt(n, 10), Count: int(n)}}, "env": {{Value: "prod", Count: 1}}}))
			continue
		}
		switch field.Kind() {
		case reflect.String:
			field.SetString(name + "-" + strconv.FormatInt(n, 10))
		case reflect.Int, reflect.Int64:
			field.SetInt(1000 + n)
		case reflect.Bool:
			field.SetBool(f.OnlyBool < 0 || f.OnlyBool == bools)
			bools++
		default:
			t.Fatalf("field %s of type %s: the round trip cannot fill it; teach Filler, and the stores to keep it", name, field.Type())
		}
	}
	return inc
}

// CompareStored compares every stored field of got with want's, or with
// fixed's for the fixed fields when fixed is not nil (after an update).
func CompareStored(t testing.TB, what string, got, want, fixed *incidents.Incident) {
	t.Helper()
	g, w := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	for i := range g.NumField() {
		name := g.Type().Field(i).Name
		if slices.Contains(NotStored, name) {
			continue
		}
		wf := w.Field(i)
		if fixed != nil && slices.Contains(FixedFields, name) {
			wf = reflect.ValueOf(fixed).Elem().Field(i)
		}
		if !reflect.DeepEqual(g.Field(i).Interface(), wf.Interface()) {
			t.Errorf("%s incident: %s reads back as %v, want %v", what, name, g.Field(i).Interface(), wf.Interface())
		}
	}
}

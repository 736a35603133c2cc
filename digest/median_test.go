package digest

import (
	"slices"
	"testing"
	"time"
)

// An even count takes the mean of the two middles, not the lower one.
func TestMedian(t *testing.T) {
	m := time.Minute
	for _, c := range []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, 0},
		{[]time.Duration{7 * m}, 7 * m},
		{[]time.Duration{70 * m, 20 * m}, 45 * m},                  // (20m+70m)/2, not 20m
		{[]time.Duration{25 * m, 10 * m}, 17*m + 30*time.Second},   // (10m+25m)/2
		{[]time.Duration{45 * m, 10 * m, 25 * m}, 25 * m},          // odd: the middle
		{[]time.Duration{4 * m, 1 * m, 3 * m, 100 * m}, 3*m + m/2}, // (3m+4m)/2
	} {
		in := slices.Clone(c.in)
		if got := median(in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
		if !slices.Equal(in, c.in) {
			t.Errorf("median reordered its input: %v", in)
		}
	}
}

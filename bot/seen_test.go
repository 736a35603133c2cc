package bot

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestSeenCountsAnIDOnceWithinItsTTL(t *testing.T) {
	s := NewSeen(2, time.Minute)
	t0 := time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC)
	if !s.First("a", t0) || s.First("a", t0.Add(time.Second)) {
		t.Fatal("a second delivery of a counted as new")
	}
	if !s.First("a", t0.Add(2*time.Minute)) {
		t.Fatal("an id past its TTL is new again")
	}
	s.First("b", t0)
	s.First("c", t0) // evicts a: at most two remembered
	if !s.First("a", t0.Add(2*time.Minute+time.Second)) {
		t.Fatal("the oldest id was not forgotten past max")
	}
	if !s.First("", t0) || !s.First("", t0) {
		t.Fatal("the empty id must always be new")
	}
}

func TestSerialKeepsTheOrderOfAKey(t *testing.T) {
	s := NewSerial()
	var mu sync.Mutex
	got := map[string][]int{}
	var wg sync.WaitGroup
	for i := range 200 {
		key := fmt.Sprint("ch", i%3)
		wg.Add(1)
		s.Do(key, func() {
			defer wg.Done()
			mu.Lock()
			got[key] = append(got[key], i)
			mu.Unlock()
		})
	}
	wg.Wait()
	for key, seq := range got {
		for j := 1; j < len(seq); j++ {
			if seq[j] < seq[j-1] {
				t.Fatalf("%s handled %d after %d", key, seq[j], seq[j-1])
			}
		}
	}
	if len(got) != 3 {
		t.Fatalf("keys %v", got)
	}
}

package incidents

import (
	"fmt"
	"strconv"
	"strings"
)

// Priority is P1 (most urgent) to P5. The zero value means "not set".
type Priority int

// The five priorities.
const (
	P1 Priority = 1 + iota
	P2
	P3
	P4
	P5
)

// Priorities lists every valid priority, most urgent first.
var Priorities = [...]Priority{P1, P2, P3, P4, P5}

// ParsePriority accepts "P1".."P5", case-insensitive, or a bare digit.
func ParsePriority(s string) (Priority, error) {
	t := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "P")
	n, err := strconv.Atoi(t)
	if err != nil || n < 1 || n > 5 {
		return 0, Errorf(EINVALID, "priority %q is not one of P1, P2, P3, P4, P5", s)
	}
	return Priority(n), nil
}

// Valid reports whether p is one of P1..P5.
func (p Priority) Valid() bool { return p >= P1 && p <= P5 }

func (p Priority) String() string {
	if !p.Valid() {
		return fmt.Sprintf("Priority(%d)", int(p))
	}
	return "P" + strconv.Itoa(int(p))
}

// MarshalText renders "P1".."P5".
func (p Priority) MarshalText() ([]byte, error) {
	if !p.Valid() {
		return nil, fmt.Errorf("marshaling priority: %d is not in 1..5", int(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText parses "P1".."P5".
func (p *Priority) UnmarshalText(b []byte) error {
	v, err := ParsePriority(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

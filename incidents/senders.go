package incidents

import "time"

// TestReceived is a sender's test of its contact point (Grafana's Test
// button), as runbot last received it: proof that the sender reaches
// runbot, shown to people instead of being filed as an incident.
type TestReceived struct {
	Source     string    // the intake source: grafana
	Receiver   string    // the contact point's name as the sender calls it
	From       string    // the sender's address, "" when it did not say
	SentAt     time.Time // when the sender made the test; zero when it did not say
	ReceivedAt time.Time
}

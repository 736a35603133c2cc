package slack

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// The example of Slack's documentation ("Verifying requests from Slack"):
// signing secret, timestamp, body and the signature Slack computes.
const (
	docSecret    = "8f742231b10e8888abcd99yyyzzz85a5"
	docTimestamp = "1531420618"
	docBody      = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	docSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
)

func docHeader(ts, sig string) http.Header {
	h := http.Header{}
	if ts != "" {
		h.Set("X-Slack-Request-Timestamp", ts)
	}
	if sig != "" {
		h.Set("X-Slack-Signature", sig)
	}
	return h
}

func TestSignatureOfSlacksDocumentation(t *testing.T) {
	at := time.Unix(1531420618, 0)
	v := Verifier{Secret: docSecret, Now: func() time.Time { return at.Add(30 * time.Second) }}
	if got := Sign(docSecret, docTimestamp, []byte(docBody)); got != docSignature {
		t.Fatalf("Sign = %s, want the documented %s", got, docSignature)
	}
	if err := v.Verify(docHeader(docTimestamp, docSignature), []byte(docBody)); err != nil {
		t.Fatalf("the documented request is refused: %v", err)
	}
	cases := []struct {
		name   string
		v      Verifier
		header http.Header
		body   string
		want   error
	}{
		{"wrong secret", Verifier{Secret: "not-the-secret", Now: v.Now}, docHeader(docTimestamp, docSignature), docBody, ErrBadSignature},
		{"altered body", v, docHeader(docTimestamp, docSignature), docBody + "&text=ack", ErrBadSignature},
		{"stale", Verifier{Secret: docSecret, Now: func() time.Time { return at.Add(6 * time.Minute) }}, docHeader(docTimestamp, docSignature), docBody, ErrStale},
		{"from the future", Verifier{Secret: docSecret, Now: func() time.Time { return at.Add(-6 * time.Minute) }}, docHeader(docTimestamp, docSignature), docBody, ErrStale},
		{"unsigned", v, docHeader("", ""), docBody, ErrUnsigned},
		{"timestamp not a number", v, docHeader("soon", docSignature), docBody, ErrUnsigned},
		{"altered timestamp", v, docHeader("1531420619", docSignature), docBody, ErrBadSignature},
	}
	for _, c := range cases {
		if err := c.v.Verify(c.header, []byte(c.body)); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

package slack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Errors of request verification. All of them answer 401 and do nothing.
var (
	ErrUnsigned     = errors.New("slack request is not signed")
	ErrBadSignature = errors.New("slack request signature does not match")
	ErrStale        = errors.New("slack request is older than 5 minutes (replayed?)")
)

// maxSkew is how old (or how far in the future) a signed request may be.
const maxSkew = 5 * time.Minute

// Verifier checks Slack's request signatures: HMAC-SHA256 of
// "v0:<timestamp>:<body>" with the app's signing secret, compared in
// constant time, on requests no older than five minutes.
type Verifier struct {
	Secret string
	Now    func() time.Time
}

// Verify checks a request's signature headers against its body.
func (v Verifier) Verify(header http.Header, body []byte) error {
	ts, sig := header.Get("X-Slack-Request-Timestamp"), header.Get("X-Slack-Signature")
	if ts == "" || sig == "" {
		return ErrUnsigned
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrUnsigned
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	if d := now().Sub(time.Unix(secs, 0)); d > maxSkew || d < -maxSkew {
		return ErrStale
	}
	if !hmac.Equal([]byte(sig), []byte(Sign(v.Secret, ts, body))) {
		return ErrBadSignature
	}
	return nil
}

// Sign computes the X-Slack-Signature of a body sent at timestamp ts.
func Sign(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v0:" + ts + ":"))
	m.Write(body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

// readVerified reads a request body of at most max bytes and verifies it.
func (v Verifier) readVerified(r *http.Request, max int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, max))
	if err != nil {
		return nil, err
	}
	if err := v.Verify(r.Header, body); err != nil {
		return nil, err
	}
	return body, nil
}

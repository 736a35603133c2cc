package api

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Request bodies may come gzipped (Vector and Fluent Bit compress what they
// send) or as they are. Nothing else is read: deflate means zlib to some
// senders and raw deflate to others, and br or zstd are sent by no alert
// source runbot knows; refusing them says so, where reading them as plain
// bytes filed garbage.
const acceptedEncodings = "gzip"

// bodyTooLargeError is a body over its limit, as sent or once decoded.
type bodyTooLargeError struct {
	limit   int64
	decoded bool
}

func (e *bodyTooLargeError) Error() string {
	if e.decoded {
		return fmt.Sprintf("decoded body is larger than %d bytes", e.limit)
	}
	return fmt.Sprintf("body is larger than %d bytes", e.limit)
}

// unsupportedEncodingError is a Content-Encoding runbot does not decode.
type unsupportedEncodingError struct{ encoding string }

func (e *unsupportedEncodingError) Error() string {
	return fmt.Sprintf("Content-Encoding %q is not accepted: send the body as is or with Content-Encoding: %s", e.encoding, acceptedEncodings)
}

// readBody reads a request body of at most max bytes once decoded. A
// gzipped body is decoded as it is read and refused as soon as it passes
// max, so a small body that inflates to gigabytes costs max, not
// gigabytes; the bytes sent are held to max as well. A plain body of a
// declared length is read in one allocation.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	gz, err := gzipped(r.Header)
	if err != nil {
		return nil, err
	}
	if r.ContentLength > max {
		return nil, &bodyTooLargeError{limit: max}
	}
	body := http.MaxBytesReader(w, r.Body, max)
	if !gz {
		if r.ContentLength > 0 {
			buf := make([]byte, r.ContentLength)
			if _, err := io.ReadFull(body, buf); err != nil {
				return nil, sentTooLarge(err)
			}
			return buf, nil
		}
		buf, err := io.ReadAll(body)
		return buf, sentTooLarge(err)
	}
	zr, err := gzip.NewReader(body)
	if err != nil {
		if err = sentTooLarge(err); errors.As(err, new(*bodyTooLargeError)) {
			return nil, err
		}
		return nil, fmt.Errorf("reading gzip body: the body is not gzip (%w)", err)
	}
	buf, err := io.ReadAll(io.LimitReader(zr, max+1))
	if err != nil {
		if err = sentTooLarge(err); errors.As(err, new(*bodyTooLargeError)) {
			return nil, err
		}
		return nil, fmt.Errorf("decoding gzip body: %w", err)
	}
	if int64(len(buf)) > max {
		return nil, &bodyTooLargeError{limit: max, decoded: true}
	}
	return buf, nil
}

// sentTooLarge names the limit when the bytes sent passed it.
func sentTooLarge(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return &bodyTooLargeError{limit: tooLarge.Limit}
	}
	return err
}

// gzipped reads Content-Encoding: true for gzip, false for none.
func gzipped(h http.Header) (bool, error) {
	var codings []string
	for _, v := range h.Values("Content-Encoding") {
		for c := range strings.SplitSeq(v, ",") {
			if c = strings.ToLower(strings.TrimSpace(c)); c != "" && c != "identity" {
				codings = append(codings, c)
			}
		}
	}
	switch {
	case len(codings) == 0:
		return false, nil
	case len(codings) == 1 && (codings[0] == "gzip" || codings[0] == "x-gzip"):
		return true, nil
	}
	return false, &unsupportedEncodingError{encoding: strings.Join(h.Values("Content-Encoding"), ", ")}
}

// bodyErrorStatus is the status a readBody error answers: 413 over a
// limit, 415 for an encoding runbot does not read (with Accept-Encoding
// set, as RFC 7694 asks), 400 otherwise.
func bodyErrorStatus(w http.ResponseWriter, err error) int {
	switch {
	case errors.As(err, new(*bodyTooLargeError)):
		return http.StatusRequestEntityTooLarge
	case errors.As(err, new(*unsupportedEncodingError)):
		w.Header().Set("Accept-Encoding", acceptedEncodings)
		return http.StatusUnsupportedMediaType
	}
	return http.StatusBadRequest
}

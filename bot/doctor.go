package bot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"strings"
	"time"
)

// Report is where a platform's checks for "runbot doctor" say how each
// went: one line per check, named ("slack token"), ok, warn or fail, with
// what to do.
type Report interface {
	OK(check, format string, a ...any)
	Warn(check, format string, a ...any)
	Fail(check, format string, a ...any)
}

// CheckTimeout bounds every network call of a check: a doctor that hangs
// on a firewall that drops packets tells nobody anything.
const CheckTimeout = 5 * time.Second

// WantedChannel is a channel the configuration names besides a platform's
// default, with where it is named ("triage.channels"), for a check to
// tell where to fix it.
type WantedChannel struct{ Name, From string }

// OtherChannels is wanted as a platform names its channels (trim), without
// the default channel and without repeats, in order.
func OtherChannels(defaultChannel string, wanted []WantedChannel, trim func(string) string) []WantedChannel {
	seen := map[string]bool{trim(defaultChannel): true}
	var out []WantedChannel
	for _, w := range wanted {
		if name := trim(w.Name); name != "" && !seen[name] {
			seen[name] = true
			out = append(out, WantedChannel{name, w.From})
		}
	}
	return out
}

// ChannelList names channels for a line: "#a, #b".
func ChannelList(prefix string, chans []WantedChannel) string {
	names := make([]string, len(chans))
	for i, c := range chans {
		names[i] = prefix + c.Name
	}
	return strings.Join(names, ", ")
}

// CheckCause is the innermost useful words of an error: "connection
// refused", not the URL and the dial that the check's line already names.
func CheckCause(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within %s", CheckTimeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return OneLine(err)
}

// OneLine keeps a joined error on its check's line.
func OneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}

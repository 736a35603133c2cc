package alerts

import (
	"regexp"
	"strings"
)

// klogHeaderRE is the header of a klog line, as Kubernetes components
// write them: "E1124 08:01:13.204551   1 reflector.go:138] message".
var klogHeaderRE = regexp.MustCompile(`^[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d+ +\d+ [^\] ]+:\d+\] `)

// klogLevels maps klog's level letter to a level word.
var klogLevels = map[byte]string{'I': "info", 'W': "warning", 'E': "error", 'F': "fatal"}

// parseKlog splits a klog line into its level and message. The header's
// time, thread id and source line say nothing about what failed, and the
// level letter is the only level a klog line has.
func parseKlog(s string) (level, msg string, ok bool) {
	if len(s) < 8 || klogLevels[s[0]] == "" {
		return "", "", false // most lines: no expression run
	}
	loc := klogHeaderRE.FindStringIndex(s)
	if loc == nil {
		return "", "", false
	}
	msg = strings.TrimSpace(s[loc[1]:])
	if msg == "" {
		return "", "", false
	}
	return klogLevels[s[0]], msg, true
}

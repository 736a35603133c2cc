// Package digest turns incidents into the two summaries a RUN team reads
// rather than queries: the morning check (is anything on fire, what
// happened overnight) and the RUN-week handover (how the week went and what
// the incoming person inherits).
//
// Both are pure functions of their inputs, including the current time, so
// that the bot, the CLI and tests produce the same text from the same data
// and a digest can be recomputed for any past moment.
package digest

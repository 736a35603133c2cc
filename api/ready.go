package api

import "net/http"

// livez answers whether the process should be restarted: whenever it
// answers at all it should not. /healthz is not that: a full disk makes
// it 503, and restarting runbot frees no space but drops its connections
// and, in a loop, its chat. Probes that restart (Kubernetes' liveness) ask
// here; those that take traffic away ask /readyz; people and alerting ask
// /healthz, which says what is wrong.
func (s *Server) livez(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
}

// readyz answers whether this replica should be sent traffic: healthy
// (its database answers), started, not shutting down, and taking part in
// the lease elections when there are several replicas. /healthz answers
// whether it should be restarted: a replica that is draining or cut from
// the lease table is not ready, and restarting it would not help.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.health.check(r.Context()); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "error": healthProblem(err)})
		return
	}
	if s.opts.Ready != nil {
		if why := s.opts.Ready(); why != "" {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "error": why})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

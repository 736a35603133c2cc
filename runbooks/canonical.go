package runbooks

// Canonical is the catalog's name for a service named by itself or by one
// of its aliases (in any case); a name the catalog does not know is
// returned as it is.
func (c *Catalog) Canonical(service string) string {
	if e, ok := c.lookup(service); ok {
		return e.Service
	}
	return service
}

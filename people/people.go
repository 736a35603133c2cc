// Package people maps the identities one person has in each place runbot
// meets them (a Slack handle, a Mattermost username, the email or subject
// of a single sign-on token) to the one name runbot knows them by. Members,
// rotations, the audit log and every "who" in a timeline use that name, so
// that "alice is a member" means the same person whether she types /resolve
// in Slack, presses a button in Mattermost or signs in to the console.
package people

import (
	"fmt"
	"strings"
)

// Person is one person and the identities that are theirs.
type Person struct {
	// Name is how runbot names them everywhere.
	Name string
	// Email and Subject are the claims of their single sign-on token; the
	// email is compared without regard to case, the subject exactly.
	Email   string
	Subject string
	// Slack and Mattermost are their handles there (the user name the
	// platform shows, without @).
	Slack      []string
	Mattermost []string
}

// Platforms whose handles a Person lists.
const (
	Slack      = "slack"
	Mattermost = "mattermost"
)

// Directory answers who is who. A nil Directory knows nobody: every
// identity stands for itself, as before any mapping was configured.
type Directory struct {
	byName   map[string]Person
	byHandle map[string]string // platform + ":" + handle -> name
	byEmail  map[string]string // lower-case email -> name
	bySub    map[string]string
}

// New checks that no identity is claimed by two people (the second claim
// would silently hand one person's rights to another) and returns the
// directory.
func New(ps []Person) (*Directory, error) {
	d := &Directory{byName: map[string]Person{}, byHandle: map[string]string{}, byEmail: map[string]string{}, bySub: map[string]string{}}
	claim := func(m map[string]string, key, what, name string) error {
		if key == "" {
			return nil
		}
		if other, ok := m[key]; ok && other != name {
			return fmt.Errorf("%s %q is both %s's and %s's", what, key, other, name)
		}
		m[key] = name
		return nil
	}
	for _, p := range ps {
		p.Name = strings.TrimPrefix(strings.TrimSpace(p.Name), "@")
		if p.Name == "" {
			return nil, fmt.Errorf("a person needs a name")
		}
		if strings.Contains(p.Name, ":") {
			// Strangers are named "platform:handle": no listed name may look
			// like one.
			return nil, fmt.Errorf("%s: a name cannot hold a colon", p.Name)
		}
		if _, dup := d.byName[p.Name]; dup {
			return nil, fmt.Errorf("%s is listed twice", p.Name)
		}
		d.byName[p.Name] = p
		if err := claim(d.byEmail, strings.ToLower(strings.TrimSpace(p.Email)), "email", p.Name); err != nil {
			return nil, err
		}
		if err := claim(d.bySub, strings.TrimSpace(p.Subject), "subject", p.Name); err != nil {
			return nil, err
		}
		for platform, hs := range map[string][]string{Slack: p.Slack, Mattermost: p.Mattermost} {
			for _, h := range hs {
				h = strings.TrimPrefix(strings.TrimSpace(h), "@")
				if h == "" {
					continue
				}
				if err := claim(d.byHandle, platform+":"+h, platform+" handle", p.Name); err != nil {
					return nil, err
				}
			}
		}
	}
	// A handle that is someone else's name would make that name mean two
	// people depending on where it is typed.
	for key, name := range d.byHandle {
		_, h, _ := strings.Cut(key, ":")
		if _, ok := d.byName[h]; ok && h != name {
			return nil, fmt.Errorf("%s is a person's name and %s's handle", h, name)
		}
	}
	return d, nil
}

// Len is how many people are listed.
func (d *Directory) Len() int {
	if d == nil {
		return 0
	}
	return len(d.byName)
}

// Name is the name of whoever uses handle on a platform; an unlisted
// handle is its own name, unless it is the name of someone whose handles
// there are listed and do not include it: then it is somebody else, and
// is named "platform:handle", which no listed name can be. (A stranger
// who takes the username alice would otherwise have alice's rights.)
func (d *Directory) Name(platform, handle string) string {
	if d == nil {
		return handle
	}
	if name, ok := d.byHandle[platform+":"+handle]; ok {
		return name
	}
	if p, ok := d.byName[handle]; ok && len(p.handles(platform)) > 0 {
		return platform + ":" + handle
	}
	return handle
}

// Stranger names someone a single sign-on token does not name in the
// directory by their email or subject: as themselves, unless that is a
// listed person's name (a provider whose subjects are usernames), then
// "oidc:" and it.
func (d *Directory) Stranger(id string) string {
	if d == nil {
		return id
	}
	if _, ok := d.byName[id]; ok {
		return "oidc:" + id
	}
	return id
}

func (p Person) handles(platform string) []string {
	switch platform {
	case Slack:
		return p.Slack
	case Mattermost:
		return p.Mattermost
	}
	return nil
}

// Handle is a person's handle on a platform, for mentioning them there:
// their first listed one, else their name.
func (d *Directory) Handle(platform, name string) string {
	if d == nil {
		return name
	}
	if h, ok := strings.CutPrefix(name, platform+":"); ok {
		return h // somebody else's, see Name
	}
	p, ok := d.byName[name]
	if !ok {
		return name
	}
	for _, h := range p.handles(platform) {
		if h = strings.TrimPrefix(strings.TrimSpace(h), "@"); h != "" {
			return h
		}
	}
	return name
}

// FromToken is the name of the person a single sign-on token is about,
// by its email or its subject; "" when nobody listed has either.
func (d *Directory) FromToken(email, subject string) string {
	if d == nil {
		return ""
	}
	if name, ok := d.byEmail[strings.ToLower(strings.TrimSpace(email))]; ok && email != "" {
		return name
	}
	if name, ok := d.bySub[subject]; ok && subject != "" {
		return name
	}
	return ""
}

// Canonical is the name of the person an entry of the configuration
// means (members, rotations): their name, email, subject or any handle.
// Anything else stands for itself.
func (d *Directory) Canonical(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "@")
	if d == nil {
		return s
	}
	if _, ok := d.byName[s]; ok {
		return s
	}
	if name := d.FromToken(s, s); name != "" {
		return name
	}
	for _, platform := range []string{Slack, Mattermost} {
		if name, ok := d.byHandle[platform+":"+s]; ok {
			return name
		}
	}
	return s
}

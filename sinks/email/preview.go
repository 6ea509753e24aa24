package email

import "github.com/switchboard/switchboard/sinks"

// Preview returns the plain-text and HTML bodies Send would mail for m,
// for the admin console to show.
func Preview(m *sinks.Message) (text, html string, err error) {
	b, err := render(m)
	return b.plain, b.html, err
}

package console

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// A subject's timeline shows the events Switchboard made about it too: an
// expectation that ran out for a fax ("no final status within 1s") is
// part of what happened to that fax, and so is the alert it caused.
func TestTimelineShowsExpectationEvents(t *testing.T) {
	listen, base := serveWith(t, `expect_grace: 0s
expect:
  - {name: final-within-1s, after: 'status == "pending"', then: final, within: 1s}`)
	resp, err := http.PostForm(listen+"/hooks/fax", url.Values{"TransactionID": {"664598111"}, "Status": {"-2"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("callback: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/api/deliveries?subject=664598111")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Count(string(b), `"id": "msg_`) >= 2 {
			break // the callback's delivery and the missed expectation's
		}
		if time.Now().After(deadline) {
			t.Fatalf("the expectation did not fire: %s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err = http.Get(base + "/subjects/664598111")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "expectation.missed") {
		t.Errorf("the timeline of 664598111 does not show its expectation.missed event:\n%s", page)
	}
}

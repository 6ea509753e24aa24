package console

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// A delivery a silence held back shows as silenced, with text, and can be
// sent by hand from its page, as `switchboard deliveries retry ID` can.
func TestConsoleRetriesSilenced(t *testing.T) {
	listen, base := serveBoth(t)
	resp, err := http.Post(base+"/api/silences", "application/json",
		strings.NewReader(`{"match": "subject == \"777\"", "for": "1h", "comment": "test"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		t.Fatalf("add silence: %s", resp.Status)
	}
	// Silences apply within a second: send callbacks for the subject until
	// one is held back.
	var id string
	for i := 0; id == "" && i < 50; i++ {
		form := url.Values{"TransactionID": {"777"}, "Status": {fmt.Sprint(-i - 1)}}
		resp, err := http.PostForm(listen+"/hooks/fax", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		resp, err = http.Get(base + "/api/deliveries?state=silenced")
		if err != nil {
			t.Fatal(err)
		}
		var list struct {
			Deliveries []struct{ ID string } `json:"deliveries"`
		}
		err = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Deliveries) > 0 {
			id = list.Deliveries[0].ID
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if id == "" {
		t.Fatal("no delivery was silenced")
	}

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) string {
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	page := get("/deliveries/" + id)
	if !strings.Contains(page, "– silenced") || !strings.Contains(page, `id="retry-one"`) {
		t.Fatalf("the silenced delivery's page shows no state text or no retry button:\n%s", page)
	}
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF field")
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/retry", strings.NewReader(url.Values{"csrf": {m[1]}, "id": {id}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("retry: %s", resp.Status)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(get("/deliveries/"+id), "✓ delivered") {
		if time.Now().After(deadline) {
			t.Fatal("the retried delivery was not delivered")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

package app

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/server"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/receivers/telesign"
)

// The service and switchboard test take callbacks in through one sequence
// (server.Decode) and route with one Router: the same callbacks give the
// same replies, events and messages through both.
func TestDryRunMatchesIntake(t *testing.T) {
	b := buildConfig(t, dryRunConfig)
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := server.New(st, slog.New(slog.DiscardHandler), nil, server.Metrics{})
	srv.Swap(b.Routing)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	sms := readExample(t, "telesign-sms-delivered.json")
	sig, err := telesign.Sign(tsKey, sms)
	if err != nil {
		t.Fatal(err)
	}
	tsa := http.Header{"Authorization": {"TSA " + tsCustomer + ":" + sig}}
	soap := readExample(t, "interfax-fax-delivered-soap11.xml")
	reqs := []DryRunRequest{
		{Receiver: "fax", Body: readExample(t, "interfax-fax-busy.form"), Query: "token=sekret-callback-token"},
		{Receiver: "fax", Body: readExample(t, "interfax-fax-delivered.form"), Query: "token=sekret-callback-token"},
		{Receiver: "fax", Body: soap, Query: "token=sekret-callback-token", Header: http.Header{"Soapaction": {`"http://www.interfax.net/Outbound"`}}},
		{Receiver: "fax", Body: readExample(t, "interfax-fax-busy.form"), Query: "token=wrong"},
		{Receiver: "ts", Body: sms, Header: tsa},
		{Receiver: "ts", Body: readExample(t, "telesign-verify-blocked.json")}, // unsigned
		{Receiver: "ts", Body: []byte(`{"reference_id": 12`), Header: tsa},
		{Receiver: "fax", Body: bytes.Repeat([]byte("x"), 5000), Query: "token=sekret-callback-token"},
	}
	for _, req := range reqs {
		ct := GuessContentType(req.Body)
		dry, err := b.DryRun(DryRunRequest{Receiver: req.Receiver, Body: req.Body, Query: req.Query, Header: req.Header, ContentType: ct})
		if err != nil {
			t.Fatal(err)
		}
		hr, _ := http.NewRequest(http.MethodPost, hs.URL+"/hooks/"+req.Receiver+"?"+req.Query, bytes.NewReader(req.Body))
		for k, vs := range req.Header {
			hr.Header[k] = vs
		}
		hr.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		name := req.Receiver + " " + strings.SplitN(string(req.Body), "\n", 2)[0]
		if len(name) > 60 {
			name = name[:60]
		}
		if resp.StatusCode != dry.Status {
			t.Errorf("%s: service answered %d, dry run %d (%s)", name, resp.StatusCode, dry.Status, dry.Error)
			continue
		}
		for _, de := range dry.Events {
			ds, err := st.List(context.Background(), store.Filter{EventID: de.Event.ID})
			if err != nil {
				t.Fatal(err)
			}
			var stored, dried []string
			for _, d := range ds {
				stored = append(stored, d.Rule+"/"+d.Sink+": "+d.Title+" | "+d.Text)
			}
			for _, m := range de.Messages {
				dried = append(dried, m.Rule+"/"+m.Sink+": "+m.Title+" | "+m.Text)
			}
			slices.Sort(stored)
			slices.Sort(dried)
			if !slices.Equal(stored, dried) {
				t.Errorf("%s: event %s\n service stored %q\n dry run shows  %q", name, de.Event.ID, stored, dried)
			}
		}
		if dry.Status == 200 && len(dry.Events) == 0 {
			t.Errorf("%s: accepted with no events", name)
		}
	}
}

package ovh

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	govh "github.com/ovh/go-ovh/ovh"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
)

// Recognisable secrets in the request the fuzzed answer replies to: no
// error may quote them (a body that itself contains one aside).
const (
	fuzzAppSecret   = "fuzz-application-secret-MUST-NOT-LEAK"
	fuzzConsumerKey = "fuzz-consumer-key-MUST-NOT-LEAK"
	fuzzSignature   = "$1$fuzzsignatureMUSTNOTLEAK0123456789abcdef"
	fuzzBearer      = "fuzz-bearer-token-MUST-NOT-LEAK"
)

// FuzzDecodeError feeds any status, body and Retry-After through the path
// every OVH answer takes (go-ovh's decoding, then ours, then classify): it
// must never panic, every failure must be classified, and nothing from the
// request's credentials may come back in the error.
func FuzzDecodeError(f *testing.F) {
	f.Add(500, `{"class":"Server::InternalServerError","message":"Internal server error"}`, "")
	f.Add(503, "<html><head><title>503 Service Unavailable</title></head><body>nginx</body></html>", "")
	f.Add(429, `{"class":"Client::TooManyRequests","message":"Too many requests"}`, "7")
	f.Add(403, `{"errorCode":"INVALID_CREDENTIAL","httpCode":"403 Forbidden","message":"This credential is not valid"}`, "")
	f.Add(401, `{"errorCode":"NOT_AUTHENTICATED","httpCode":"401 Unauthorized","message":"You must login first"}`, "")
	f.Add(403, `{"errorCode":"NOT_CREDENTIAL","httpCode":"403 Forbidden","message":"This credential does not exist"}`, "")
	f.Add(403, `{"errorCode":"NOT_GRANTED_CALL","httpCode":"403 Forbidden","message":"This call has not been granted"}`, "")
	f.Add(400, `{"errorCode":"QUERY_TIME_OUT","httpCode":"400 Bad Request","message":"x"}`, "")
	f.Add(404, `{"class":"Client::NotFound","message":"Got an invalid (or empty) URL"}`, "")
	f.Add(403, `{"class":"Client::Forbidden","message":"Virtual MAC is not supported on this server"}`, "")
	f.Add(409, `{"message":"A move task is already in progress on this IP"}`, "")
	f.Add(400, `{"message":"x","details":{"unauthorizedActionsByIAM":"ip:apiovh:move"}}`, "")
	f.Add(200, `{"taskId":"not a number"}`, "")
	f.Add(200, "", "")
	f.Add(204, "null", "")
	f.Add(502, "", "-1")
	f.Add(500, strings.Repeat("A", 1<<16), "99999999999999999999")
	f.Add(100, "\x00\xff{", "1")
	f.Add(302, `{"message":`, "")
	api, err := govh.NewClient("https://eu.api.ovh.com/1.0", "fuzz-app-key", fuzzAppSecret, fuzzConsumerKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, status int, body, retryAfterHeader string) {
		status = 100 + (status%500+500)%500 // any HTTP status, 1xx to 5xx
		req, err := http.NewRequest(http.MethodPost, "https://eu.api.ovh.com/1.0/ip/203.0.113.123%2F32/move", strings.NewReader(`{"to":"ns1"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Ovh-Application", "fuzz-app-key")
		req.Header.Set("X-Ovh-Consumer", fuzzConsumerKey)
		req.Header.Set("X-Ovh-Signature", fuzzSignature)
		req.Header.Set("Authorization", "Bearer "+fuzzBearer)
		resp := &http.Response{
			StatusCode: status,
			Header:     http.Header{"Retry-After": {retryAfterHeader}, "X-Ovh-Queryid": {"EU.ext-fuzz.1"}},
			Body:       io.NopCloser(bytes.NewReader([]byte(body))),
			Request:    req,
		}
		var out struct {
			TaskID     int64     `json:"taskId"`
			Status     string    `json:"status"`
			StartDate  time.Time `json:"startDate"`
			LastUpdate time.Time `json:"lastUpdate"`
		}
		got := classify("Fuzz", decodeResponse(api, resp, []byte(body), &out))
		ok := status >= 200 && status < 300
		if !ok && got == nil {
			t.Fatalf("HTTP %d answered no error", status)
		}
		if got == nil {
			return
		}
		if k := cause.KindOf(got); k == cause.Unknown {
			t.Fatalf("HTTP %d %q: unclassified error %v", status, body, got)
		}
		if retryAfter(got) < 0 {
			t.Fatalf("Retry-After %q gave a negative wait", resp.Header.Get("Retry-After"))
		}
		msg := got.Error()
		for _, secret := range []string{fuzzAppSecret, fuzzConsumerKey, fuzzSignature, fuzzBearer} {
			if strings.Contains(msg, secret) && !strings.Contains(body, secret) {
				t.Fatalf("the error quotes a credential: %q", msg)
			}
		}
	})
}

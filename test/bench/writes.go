package main

import (
	"bytes"
	"context"
	"io"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ovhbridge/ovhbridge-operator/test/world"
)

// apiserverMetrics scrapes the API server's own /metrics (through kubectl,
// with the bench's admin credentials).
func (e *env) apiserverMetrics() (world.Samples, error) { return scrape(e.cp) }

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// resources are the kinds' API resource names.
var resources = map[string]string{kindFIP: "failoverips", kindBVM: "bridgedvms", kindRTC: "routerconfigs"}

// statusPatches are, per kind, the PATCH requests on the status subresource
// the API server received between two scrapes. Only the operator writes
// status.
func statusPatches(before, after world.Samples) map[string]int {
	out := map[string]int{}
	for kind, res := range resources {
		match := map[string]string{"resource": res, "subresource": "status", "verb": "PATCH"}
		out[kind] = int(after.Sum("apiserver_request_total", match) - before.Sum("apiserver_request_total", match))
	}
	return out
}

// events lists the Events of the namespace (events.k8s.io, which the
// operator's recorder writes) and counts them per kind of the object they
// are about: Event objects, occurrences (a series counts each repetition),
// and occurrences per kind and reason.
func (e *env) events(ctx context.Context) (objects, occurrences, reasons map[string]int, err error) {
	var list eventsv1.EventList
	if err := e.kube.List(ctx, &list, client.InNamespace(e.top.Namespace)); err != nil {
		return nil, nil, nil, err
	}
	objects, occurrences, reasons = map[string]int{}, map[string]int{}, map[string]int{}
	for _, ev := range list.Items {
		n := 1
		if ev.Series != nil && ev.Series.Count > 1 {
			n = int(ev.Series.Count)
		} else if ev.DeprecatedCount > 1 {
			n = int(ev.DeprecatedCount)
		}
		kind := ev.Regarding.Kind
		objects[kind]++
		occurrences[kind] += n
		reasons[kind+"/"+ev.Reason] += n
	}
	return objects, occurrences, reasons, nil
}

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

// statusPatches are, per kind, the status writes the API server made
// between two scrapes (PATCH on the status subresource answered 200; only
// the operator writes status), and the patches it refused as conflicts
// (409: the operator's optimistic lock on a cached copy older than the
// object; nothing written, the object is read again).
func statusPatches(before, after world.Samples) (writes, conflicts map[string]int) {
	writes, conflicts = map[string]int{}, map[string]int{}
	for kind, res := range resources {
		for code, out := range map[string]map[string]int{"200": writes, "409": conflicts} {
			match := map[string]string{"resource": res, "subresource": "status", "verb": "PATCH", "code": code}
			out[kind] = int(after.Sum("apiserver_request_total", match) - before.Sum("apiserver_request_total", match))
		}
	}
	return writes, conflicts
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

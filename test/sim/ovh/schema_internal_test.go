package ovhsim

import "testing"

// Every route the simulator serves is an operation of OVH's description:
// the simulator invents no route.
func TestEveryRouteIsDescribed(t *testing.T) {
	schema, err := APISchema()
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range routes {
		if !schema.HasOperation(rt.key) {
			t.Errorf("%s is not in testdata/schema", rt.key)
		}
	}
}

// Package v1alpha1 contains the ovhbridge.io/v1alpha1 API: FailoverIP,
// BridgedVM and RouterConfig, which together describe a bridged OVH dedicated
// server running ESXi with failover IPs, virtual MACs and a router VM.
//
// +kubebuilder:object:generate=true
// +groupName=ovhbridge.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "ovhbridge.io", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this package with a scheme. It is
	// apimachinery's own builder: importing this package pulls in nothing
	// of controller-runtime.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the kinds of this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme

	knownTypes []runtime.Object
)

// register records kinds for addKnownTypes (called from each kind's init).
func register(objs ...runtime.Object) { knownTypes = append(knownTypes, objs...) }

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, knownTypes...)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

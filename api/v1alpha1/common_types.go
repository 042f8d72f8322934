package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PausedAnnotation stops all external calls for an object while set to "true".
// The object then reports Synced=False with reason ReconcilePaused.
const PausedAnnotation = "ovhbridge.io/paused"

// Finalizer is set on objects whose deletionPolicy is Delete, so that the
// operator can undo what it created before the object goes away.
const Finalizer = "ovhbridge.io/finalizer"

// ManagementPolicy says whether the operator may change the external system.
// +kubebuilder:validation:Enum=Manage;Observe
type ManagementPolicy string

const (
	// Manage observes the external system and corrects any drift.
	Manage ManagementPolicy = "Manage"
	// Observe only observes and reports drift; it never writes to the external
	// system. Use it to adopt infrastructure that already exists.
	Observe ManagementPolicy = "Observe"
)

// DeletionPolicy says what happens to the external world when the object is
// deleted.
// +kubebuilder:validation:Enum=Orphan;Delete
type DeletionPolicy string

const (
	// Orphan leaves the external world exactly as it is.
	Orphan DeletionPolicy = "Orphan"
	// Delete undoes what this object created (a vMAC binding, owned router
	// rules); never the VM and never the IP itself.
	Delete DeletionPolicy = "Delete"
)

// Policies are the fields every kind shares to say how far the operator may go.
type Policies struct {
	// managementPolicy is Manage (observe, then correct drift) or Observe
	// (observe and report drift, never write to the external system).
	// +kubebuilder:default=Manage
	// +optional
	ManagementPolicy ManagementPolicy `json:"managementPolicy,omitempty"`

	// deletionPolicy is Orphan (leave the external world as it is when this
	// object is deleted) or Delete (undo what this object created first).
	// +kubebuilder:default=Orphan
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// SecretReference names a Secret in the same namespace as the object.
type SecretReference struct {
	// name of the Secret, in the object's namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// FailoverIPReference names a FailoverIP in the same namespace.
type FailoverIPReference struct {
	// failoverIPRef names the FailoverIP (same namespace) to take the value from.
	FailoverIPRef LocalObjectReference `json:"failoverIPRef"`
}

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// name of the object, in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// DriftItem describes one difference between what the spec asks for and what
// the external system shows, for machines (humans read the conditions).
type DriftItem struct {
	// field is the spec path or external attribute that differs, e.g.
	// "routedTo" or "nics[WAN].mac".
	Field string `json:"field"`
	// expected is the value the spec asks for.
	// +optional
	Expected string `json:"expected,omitempty"`
	// observed is the value found in the external system.
	// +optional
	Observed string `json:"observed,omitempty"`
	// reason is the drift reason this item belongs to, e.g. RoutedElsewhere.
	// +optional
	Reason string `json:"reason,omitempty"`
}

// ResourceStatus is the part of the status every kind shares.
type ResourceStatus struct {
	// observedGeneration is the metadata.generation this status was computed
	// from; a smaller value than metadata.generation means the latest spec has
	// not been acted on yet.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions describe the object's state. Ready summarises; Synced says
	// whether the operator could talk to the external system; Reconciling and
	// Stalled follow kstatus and exist only while True.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// drift lists every difference found at the last observation.
	// +listType=atomic
	// +optional
	Drift []DriftItem `json:"drift,omitempty"`

	// lastObservedTime is when the external system was last observed.
	// +optional
	LastObservedTime *metav1.Time `json:"lastObservedTime,omitempty"`
}

// GetPolicies gives the management and deletion policies with defaults
// applied (objects created before defaulting, or built in Go, may be empty).
func (p Policies) GetPolicies() Policies {
	if p.ManagementPolicy == "" {
		p.ManagementPolicy = Manage
	}
	if p.DeletionPolicy == "" {
		p.DeletionPolicy = Orphan
	}
	return p
}

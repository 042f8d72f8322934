package v1alpha1

// The accessors below let the shared reconcile plumbing handle every kind the
// same way without reflection.

// GetResourceStatus gives the status fields shared by every kind.
func (f *FailoverIP) GetResourceStatus() *ResourceStatus { return &f.Status.ResourceStatus }

// GetPolicies gives the management and deletion policies, defaults applied.
func (f *FailoverIP) GetPolicies() Policies { return f.Spec.GetPolicies() }

// GetResourceStatus gives the status fields shared by every kind.
func (b *BridgedVM) GetResourceStatus() *ResourceStatus { return &b.Status.ResourceStatus }

// GetPolicies gives the management and deletion policies, defaults applied.
func (b *BridgedVM) GetPolicies() Policies { return b.Spec.GetPolicies() }

// GetResourceStatus gives the status fields shared by every kind.
func (r *RouterConfig) GetResourceStatus() *ResourceStatus { return &r.Status.ResourceStatus }

// GetPolicies gives the management and deletion policies, defaults applied.
func (r *RouterConfig) GetPolicies() Policies { return r.Spec.GetPolicies() }

// ReadyReason is the reason of the Ready condition, "" when absent.
func (s *ResourceStatus) ReadyReason() string {
	for _, c := range s.Conditions {
		if c.Type == TypeReady {
			return c.Reason
		}
	}
	return ""
}

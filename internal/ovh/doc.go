// Package ovh is the operator's only door to the OVH API: a narrow Client
// (observe a server's IPs, an IP, virtual MACs and the network
// specification; move an IP, create a virtual MAC, bind and unbind IPs;
// read tasks) implemented with go-ovh, a pool of clients keyed by
// credentials so that a rotated Secret takes effect without a restart, a
// request budget per consumer key (OVH's fair use, 60 a minute, by default)
// that callers wait for, and an Observer that shares one observation per
// server between all the FailoverIPs routed to it and stretches
// observation intervals to stay within the budget.
//
// Every error is a *cause.Error, classified by what OVH's answer says, never
// by a guessed text: OVH's authentication errorCodes (NOT_CREDENTIAL,
// INVALID_CREDENTIAL, INVALID_KEY, INVALID_SIGNATURE, NOT_GRANTED_CALL, or
// their real texts) are CredentialsInvalid with what to fix (a missing
// access rule is named, see AccessRules); QUERY_TIME_OUT, 5xx, HTML error
// pages and network failures are Unreachable; 429 RateLimited; 404 NotFound,
// but a route the product line lacks (Kimsufi) CapabilityMissing; other 403s
// and 409s Conflict (OVH refusing the change in the current state); other
// 400s Invalid. Messages keep OVH's text and query id and never contain a
// secret.
//
// Writes return OVH tasks and never wait for them. A task read can fail for
// a while right after creation, and old tasks are purged: see
// TaskNotVisibleYet for how a controller should read a task it stored.
package ovh

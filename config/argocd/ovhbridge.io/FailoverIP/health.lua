-- Argo CD health check for the ovhbridge.io kinds (FailoverIP, BridgedVM and
-- RouterConfig share it: they share the status conventions).
--
-- The operator's status follows kstatus: Ready summarises the kind's own
-- conditions; Reconciling exists only while an external task or router commit
-- is in flight; Stalled only while an error needs a person; status and every
-- condition carry the metadata.generation they were computed from. See
-- controllers/lifecycle.go and api/v1alpha1/conditions.go in
-- github.com/ovhbridge/ovhbridge-operator.
--
-- Written for Argo CD's default sandbox (base, table, package and a reduced
-- os library): no string or math functions.

local function findCondition(conditions, conditionType)
  for _, c in ipairs(conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

-- Older than the spec: a missing observedGeneration cannot be compared.
local function olderThan(observed, generation)
  return observed ~= nil and generation ~= nil and observed < generation
end

local function health(status, message)
  local hs = {}
  hs.status = status
  hs.message = message
  return hs
end

local annotations = obj.metadata.annotations
if annotations ~= nil and annotations["ovhbridge.io/paused"] == "true" then
  return health("Suspended", "Reconciliation is paused by the ovhbridge.io/paused annotation: remove it to resume")
end

local generation = obj.metadata.generation
local waiting = "Waiting for the operator to observe generation " .. tostring(generation)
local status = obj.status or {}
local conditions = status.conditions or {}

-- Why the operator has not caught up, when it says so: the last pass could
-- not reach the external system.
local function waitingWhy()
  local synced = findCondition(conditions, "Synced")
  if synced ~= nil and synced.status == "False" then
    return waiting .. ": " .. synced.message
  end
  return waiting
end

-- The spec changed since the status was written: every condition is stale.
if olderThan(status.observedGeneration, generation) then
  return health("Progressing", waitingWhy())
end

local stalled = findCondition(conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  return health("Degraded", stalled.message)
end

local ready = findCondition(conditions, "Ready")
if ready == nil then
  return health("Progressing", "Waiting for the operator to report Ready")
end

-- Ready describes an older spec: the last pass could not reach the external
-- system (Synced says why) and kept the last known Ready.
if olderThan(ready.observedGeneration, generation) then
  return health("Progressing", waitingWhy())
end

if ready.status == "True" then
  return health("Healthy", ready.message)
end
if ready.status == "False" then
  -- A task or commit in flight will correct the drift Ready reports.
  local reconciling = findCondition(conditions, "Reconciling")
  if reconciling ~= nil and reconciling.status == "True" then
    return health("Progressing", ready.message)
  end
  return health("Degraded", ready.message)
end
-- Unknown: first observation, or the external system was never reached.
return health("Progressing", ready.message)

-- Argo CD health check for debuggrant.dev/DebugGrant (docs/gitops.md).
-- Reads the kstatus conditions the operator writes (Stalled, Reconciling, Ready, with
-- observedGeneration) and the phase for the message. Healthy: Active with access verified,
-- and Expired or Revoked with no access left (a normal end). Progressing: not seen by the
-- operator yet, being verified, no matching pod yet, being deleted. Degraded: Denied, access
-- standing after the end, a debug container running past the deadline, a refused reconcile.
-- Uses only the base library: argocd-cm scripts run without the string library.
local hs = { status = "Progressing", message = "Waiting for the debuggrant operator to reconcile this grant" }
local meta = obj.metadata or {}
if meta.deletionTimestamp ~= nil then
  hs.message = "Being deleted: the operator is revoking its access"
  return hs
end
local st = obj.status
if st == nil or st.observedGeneration == nil or st.conditions == nil then
  return hs
end
if meta.generation ~= nil and st.observedGeneration ~= meta.generation then
  hs.message = "Waiting for the operator to observe generation " .. meta.generation .. " (it last saw " .. st.observedGeneration .. ")"
  return hs
end
local byType = {}
for _, c in ipairs(st.conditions) do
  if c.type ~= nil then byType[c.type] = c end
end
local phase = st.phase or "Pending"
local function said(c)
  if c.message ~= nil and c.message ~= "" then return c.message end
  return c.reason or ""
end
local stalled, reconciling, ready = byType["Stalled"], byType["Reconciling"], byType["Ready"]
if stalled ~= nil and stalled.status == "True" then
  return { status = "Degraded", message = phase .. ": " .. (stalled.reason or "Stalled") .. ": " .. said(stalled) }
end
if reconciling ~= nil and reconciling.status == "True" then
  return { status = "Progressing", message = phase .. ": " .. (reconciling.reason or "Reconciling") .. ": " .. said(reconciling) }
end
if ready ~= nil and ready.status == "True" then
  if phase == "Active" then
    return { status = "Healthy", message = "Active: " .. said(ready) }
  end
  return { status = "Healthy", message = said(ready) }
end
-- An operator from before the kstatus conditions: go by the phase.
if phase == "Denied" then
  local denied = byType["Denied"] or {}
  return { status = "Degraded", message = "Denied: " .. said(denied) }
end
if phase == "Expired" or phase == "Revoked" then
  return { status = "Healthy", message = phase .. " (a normal end)" }
end
if ready ~= nil then
  hs.message = phase .. ": " .. (ready.reason or "") .. ": " .. said(ready)
end
return hs

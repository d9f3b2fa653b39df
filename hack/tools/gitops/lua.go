package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"
	luajson "layeh.com/gopher-json"
)

// healthStatus is what Argo CD reads back from a health script: {status, message}.
type healthStatus struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// Argo CD's health codes; any other status becomes Unknown with this message.
var validHealth = map[string]bool{"Unknown": true, "Progressing": true, "Suspended": true, "Healthy": true, "Degraded": true, "Missing": true}

const invalidHealthMessage = "Lua returned an invalid health status"

// runHealthLua runs a health script the way Argo CD's application controller does
// (util/lua in argo-cd): a fresh gopher-lua state; unless openLibs (the argocd-cm key
// resource.customizations.useOpenLibs.<group>_<Kind>, off by default for argocd-cm
// scripts) only the package, base and table libraries; the object as the global table `obj`;
// one second to finish; the returned table encoded to JSON and read as {status, message}.
// (Argo CD also offers a reduced os module, time and date, through require("os"); the
// debuggrant script uses no library beyond base, so it is not offered here: a script that
// needed it would fail here first.)
func runHealthLua(obj map[string]any, script string, openLibs bool) (healthStatus, error) {
	L := lua.NewState(lua.Options{SkipOpenLibs: !openLibs})
	defer L.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		if err := L.CallByParam(lua.P{Fn: L.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return healthStatus{}, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	L.SetContext(ctx)
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(script); err != nil {
		return healthStatus{}, err
	}
	ret := L.Get(-1)
	if ret.Type() != lua.LTTable {
		return healthStatus{}, fmt.Errorf("expect table output from Lua script, not %s", ret.Type().String())
	}
	encoded, err := luajson.Encode(ret)
	if err != nil {
		return healthStatus{}, err
	}
	var hs healthStatus
	if err := json.Unmarshal(encoded, &hs); err != nil {
		return healthStatus{}, err
	}
	if !validHealth[hs.Status] {
		return healthStatus{Status: "Unknown", Message: invalidHealthMessage}, nil
	}
	return hs, nil
}

// toLua turns a decoded object into Lua values: maps into tables with string keys, slices
// into arrays (1-based), every number kind into a Lua number, null into nil.
func toLua(L *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case map[string]any:
		t := L.CreateTable(0, len(x))
		for k, item := range x {
			t.RawSetString(k, toLua(L, item))
		}
		return t
	case []any:
		t := L.CreateTable(len(x), 0)
		for _, item := range x {
			t.Append(toLua(L, item))
		}
		return t
	case string:
		return lua.LString(x)
	case bool:
		return lua.LBool(x)
	case int64:
		return lua.LNumber(x)
	case int:
		return lua.LNumber(x)
	case int32:
		return lua.LNumber(x)
	case float64:
		return lua.LNumber(x)
	case json.Number:
		return lua.LString(x)
	}
	return lua.LNil
}

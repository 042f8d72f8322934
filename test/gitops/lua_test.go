package gitops_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// The health scripts reach Argo CD as resource customizations in argocd-cm.
// The facts below are Argo CD's (util/lua/lua.go in argoproj/argo-cd), and
// the code in this file reproduces them so that a script that passes here
// passes there:
//
//   - A customization runs with useOpenLibs false unless the admin enables
//     it: gopher-lua starts with no library, then Argo CD opens only
//     package, base, table and a reduced os (time and date), and preloads
//     that reduced os for require("os"). No string, math, io, coroutine or
//     debug library. With useOpenLibs, gopher-lua opens its standard
//     libraries first; re-opening package then leaves require() knowing
//     only os.
//   - The object is the global obj, converted from the unstructured map
//     (JSON-shaped Go values) to Lua: maps to hash tables, slices to 1-based
//     array tables, numbers (float64 from YAML/JSON, int64 from the API
//     server's decoder) to numbers, json.Number to strings, and null or
//     anything else to nil.
//   - The script is called with no arguments under a one-second deadline;
//     the last value it returns must be a table, read as JSON into
//     {status, message}. nil, or a table of another shape, means "no
//     opinion" (empty status); a status outside Healthy, Progressing,
//     Degraded, Suspended, Missing and Unknown becomes Unknown with a fixed
//     message.

// healthStatus is what Argo CD keeps from a health script.
type healthStatus struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

// argoInvalidHealthStatus is the message Argo CD shows for a status it does
// not know.
const argoInvalidHealthStatus = "Lua returned an invalid health status"

// argoScriptTimeout is the deadline Argo CD gives every script.
const argoScriptTimeout = time.Second

// runArgoHealth runs a health script on obj as Argo CD does: in its default
// sandbox, or with the standard libraries when the admin set
// resource.customizations.useOpenLibs for the kind.
func runArgoHealth(script string, obj map[string]any, useOpenLibs bool) (healthStatus, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: !useOpenLibs})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.OsLibName, openReducedOS},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return healthStatus{}, fmt.Errorf("opening %s: %w", lib.name, err)
		}
	}
	l.PreloadModule(lua.OsLibName, func(l *lua.LState) int {
		l.Push(l.SetFuncs(l.NewTable(), reducedOS))
		return 1
	})

	ctx, cancel := context.WithTimeout(context.Background(), argoScriptTimeout)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))

	fn, err := l.LoadString(script)
	if err != nil {
		return healthStatus{}, err
	}
	l.Push(fn)
	if err := l.PCall(0, lua.MultRet, nil); err != nil {
		return healthStatus{}, err
	}
	switch ret := l.Get(-1).(type) {
	case *lua.LNilType:
		return healthStatus{}, nil
	case *lua.LTable:
		v, err := fromLua(ret)
		if err != nil {
			return healthStatus{}, err
		}
		data, err := json.Marshal(v)
		if err != nil {
			return healthStatus{}, err
		}
		var hs healthStatus
		if err := json.Unmarshal(data, &hs); err != nil {
			// Argo CD reads a table of the wrong shape (an empty table
			// encodes as a JSON array) as no opinion.
			var typeErr *json.UnmarshalTypeError
			if errors.As(err, &typeErr) {
				return healthStatus{}, nil
			}
			return healthStatus{}, fmt.Errorf("health script returned %s: %w", data, err)
		}
		switch hs.Status {
		case "Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown":
			return hs, nil
		}
		return healthStatus{Status: "Unknown", Message: argoInvalidHealthStatus}, nil
	default:
		return healthStatus{}, fmt.Errorf("expect table output from Lua script, not %s", ret.Type())
	}
}

// toLua converts a JSON-shaped Go value the way Argo CD hands objects to
// its scripts.
func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case json.Number:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case []any:
		t := l.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(v))
		for k, item := range v {
			t.RawSetH(lua.LString(k), toLua(l, item))
		}
		return t
	default:
		return lua.LNil
	}
}

// fromLua converts a script's result to JSON-shaped Go values: a table
// with an array part becomes a slice, any other table a map with string
// keys; an empty table is an empty array, as Argo CD's encoder makes it.
func fromLua(v lua.LValue) (any, error) {
	switch v := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(v), nil
	case lua.LNumber:
		return float64(v), nil
	case lua.LString:
		return string(v), nil
	case *lua.LTable:
		if n := v.MaxN(); n > 0 {
			out := make([]any, 0, n)
			for i := 1; i <= n; i++ {
				item, err := fromLua(v.RawGetInt(i))
				if err != nil {
					return nil, err
				}
				out = append(out, item)
			}
			return out, nil
		}
		out := map[string]any{}
		var err error
		v.ForEach(func(k, item lua.LValue) {
			key, ok := k.(lua.LString)
			if !ok {
				err = errors.Join(err, fmt.Errorf("table key %v is not a string", k))
				return
			}
			conv, cerr := fromLua(item)
			err = errors.Join(err, cerr)
			out[string(key)] = conv
		})
		if len(out) == 0 {
			return []any{}, err
		}
		return out, err
	default:
		return nil, fmt.Errorf("cannot encode a Lua %s as JSON", v.Type())
	}
}

// reducedOS is the part of Lua's os library Argo CD lets scripts use.
var reducedOS = map[string]lua.LGFunction{
	"time": osTime,
	"date": osDate,
}

func openReducedOS(l *lua.LState) int {
	l.Push(l.RegisterModule(lua.OsLibName, reducedOS))
	return 1
}

// osTime is os.time(): now, or the time a {year, month, day, hour, min,
// sec} table describes (hour defaults to 12, as in Lua).
func osTime(l *lua.LState) int {
	if l.GetTop() == 0 {
		l.Push(lua.LNumber(time.Now().Unix()))
		return 1
	}
	t := l.CheckTable(1)
	field := func(name string, def int) int {
		if n, ok := t.RawGetString(name).(lua.LNumber); ok {
			return int(n)
		}
		return def
	}
	when := time.Date(field("year", -1), time.Month(field("month", -1)), field("day", -1),
		field("hour", 12), field("min", 0), field("sec", 0), 0, time.Local)
	l.Push(lua.LNumber(when.Unix()))
	return 1
}

// osDate is os.date([format [, time]]) for the common strftime verbs; a
// leading "!" means UTC and "*t" returns a table.
func osDate(l *lua.LState) int {
	format := l.OptString(1, "%c")
	t := time.Now()
	if l.GetTop() >= 2 {
		t = time.Unix(l.CheckInt64(2), 0)
	}
	if rest, utc := strings.CutPrefix(format, "!"); utc {
		format, t = rest, t.UTC()
	}
	if strings.HasPrefix(format, "*t") {
		tbl := l.NewTable()
		for k, v := range map[string]int{"year": t.Year(), "month": int(t.Month()), "day": t.Day(),
			"hour": t.Hour(), "min": t.Minute(), "sec": t.Second(), "wday": int(t.Weekday()) + 1, "yday": t.YearDay()} {
			tbl.RawSetString(k, lua.LNumber(v))
		}
		tbl.RawSetString("isdst", lua.LFalse)
		l.Push(tbl)
		return 1
	}
	layouts := map[byte]string{'Y': "2006", 'y': "06", 'm': "01", 'd': "02", 'H': "15", 'M': "04", 'S': "05",
		'b': "Jan", 'B': "January", 'a': "Mon", 'A': "Monday", 'p': "PM", 'Z': "MST", 'z': "-0700",
		'c': "02 Jan 06 15:04 MST", 'F': "2006-01-02", 'X': "15:04:05", '%': "%"}
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' || i+1 == len(format) {
			b.WriteByte(format[i])
			continue
		}
		i++
		if layout, ok := layouts[format[i]]; ok {
			b.WriteString(t.Format(layout))
		} else {
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	l.Push(lua.LString(b.String()))
	return 1
}

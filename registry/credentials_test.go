package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCredentialsNeverRenderPassword(t *testing.T) {
	const password = "hunter2-TOP-SECRET"
	c := Credentials{
		Name:      "abcdefghijklmnopqrstuvwxyz",
		Pool:      testPool,
		User:      "wallet.rig1",
		Password:  password,
		Algorithm: "sha256d",
		Divider:   1,
		Family:    FamilySV1,
	}
	type wrapper struct{ C Credentials }

	renders := map[string]string{
		"Sprint":         fmt.Sprint(c),
		"Sprint pointer": fmt.Sprint(&c),
		"Println":        fmt.Sprintln(c),
		"%v":             fmt.Sprintf("%v", c),
		"%+v":            fmt.Sprintf("%+v", c),
		"%#v":            fmt.Sprintf("%#v", c),
		"%s":             fmt.Sprintf("%s", c),
		"%q":             fmt.Sprintf("%q", c),
		"%x":             fmt.Sprintf("%x", c),
		"%+v pointer":    fmt.Sprintf("%+v", &c),
		"%#v pointer":    fmt.Sprintf("%#v", &c),
		"%+v nested":     fmt.Sprintf("%+v", wrapper{c}),
		"%#v nested":     fmt.Sprintf("%#v", wrapper{c}),
		"%v slice":       fmt.Sprintf("%v", []Credentials{c}),
		"String":         c.String(),
		"GoString":       c.GoString(),
	}
	for _, v := range []any{c, &c, wrapper{c}, []Credentials{c}} {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		renders[fmt.Sprintf("json %T", v)] = string(b)
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("dial", "creds", c)
	log.Info("dial", "creds", &c)
	log.Info("dial", slog.Any("creds", c))
	log.Info("dial", "wrapped", wrapper{c})
	log.Info("dial", "group", slog.GroupValue(slog.Any("creds", c)))
	renders["slog json"] = buf.String()
	buf.Reset()
	slog.New(slog.NewTextHandler(&buf, nil)).Info("dial", "creds", c)
	renders["slog text"] = buf.String()

	for how, out := range renders {
		require.NotContains(t, out, password, how)
		require.NotContains(t, out, "hunter2", how)
		require.Contains(t, out, Redacted, how)
		require.Contains(t, out, "wallet.rig1", how)
	}
	require.Equal(t, "{Name:abcdefghijklmnopqrstuvwxyz Pool:pool.example.com:3333 User:wallet.rig1 Password:******** Algorithm:sha256d Divider:1 Family:sv1}", c.String())
	require.Equal(t, `registry.Credentials{Name:"abcdefghijklmnopqrstuvwxyz", Pool:"pool.example.com:3333", User:"wallet.rig1", Password:"********", Algorithm:"sha256d", Divider:1, Family:"sv1"}`, c.GoString())
	require.Equal(t, password, c.Password, "the field itself is intact for dialing")
}

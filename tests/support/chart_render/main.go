// chart-render renders a Helm chart's templates the way `helm template` does, without helm: Go's
// text/template with sprig (the function library helm uses) plus helm's own functions include,
// tpl, required, toYaml, fromYaml, toJson, and the .Values / .Release / .Chart / .Template objects.
// It is helm's template engine, not helm: no hooks, no subcharts, no .Capabilities, no .Files, no
// lookup, no schema validation.
//
// Contract:
//
//	chart-render --chart DIR [--values FILE]... [--set a.b=v]... [--name R] [--namespace NS] [--notes]
//
// Prints every non-empty rendered manifest of DIR/templates (files not starting with "_", sorted
// by path) as "---\n# Source: CHART/templates/FILE\n<text>\n", or with --notes only the rendered
// NOTES.txt. Values: DIR/values.yaml, then each --values file merged over it, then each --set
// (true/false become booleans, integers numbers, anything else a string). Like `helm lint
// --strict`, a template reading a value that is not defined is an error (missingkey=error).
// Exit 0 on success; 1 with the error on stderr otherwise.
//
// Build offline in GOPATH mode against Debian's packages:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o chart-render .
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"

	sprig "github.com/Masterminds/sprig/v3"
	yaml "gopkg.in/yaml.v3"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// chartMeta is the part of Chart.yaml templates read through .Chart, named as helm names it.
type chartMeta struct {
	APIVersion  string `yaml:"apiVersion"`
	Name        string `yaml:"name"`
	Version     string `yaml:"version"`
	AppVersion  string `yaml:"appVersion"`
	Description string `yaml:"description"`
	Type        string `yaml:"type"`
	KubeVersion string `yaml:"kubeVersion"`
}

type release struct {
	Name      string
	Namespace string
	Service   string
	Revision  int
	IsInstall bool
	IsUpgrade bool
}

type templateInfo struct {
	Name     string
	BasePath string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "chart-render:", err)
		os.Exit(1)
	}
}

func run() error {
	var chartDir, name, namespace string
	var valueFiles, sets listFlag
	var notes bool
	flag.StringVar(&chartDir, "chart", "", "chart folder (required)")
	flag.StringVar(&name, "name", "release-name", "release name")
	flag.StringVar(&namespace, "namespace", "default", "release namespace")
	flag.Var(&valueFiles, "values", "values file merged over the chart's values.yaml (repeatable)")
	flag.Var(&sets, "set", "a.b.c=value (repeatable)")
	flag.BoolVar(&notes, "notes", false, "print the rendered NOTES.txt only")
	flag.Parse()
	if chartDir == "" || flag.NArg() != 0 {
		return errors.New("usage: chart-render --chart DIR [--values FILE]... [--set a.b=v]...")
	}

	var meta chartMeta
	if err := readYaml(filepath.Join(chartDir, "Chart.yaml"), &meta); err != nil {
		return err
	}
	values, err := loadValues(chartDir, valueFiles, sets)
	if err != nil {
		return err
	}
	tpl, paths, err := parseTemplates(chartDir, meta.Name)
	if err != nil {
		return err
	}
	top := map[string]interface{}{
		"Values":  values,
		"Chart":   meta,
		"Release": release{Name: name, Namespace: namespace, Service: "Helm", Revision: 1, IsInstall: true},
	}
	for _, path := range paths {
		base := filepath.Base(path)
		isNotes := base == "NOTES.txt"
		if strings.HasPrefix(base, "_") || isNotes != notes {
			continue
		}
		top["Template"] = templateInfo{Name: path, BasePath: meta.Name + "/templates"}
		var out bytes.Buffer
		if err := tpl.ExecuteTemplate(&out, path, top); err != nil {
			return err
		}
		text := strings.TrimSpace(out.String())
		if notes {
			fmt.Println(text)
		} else if text != "" {
			fmt.Printf("---\n# Source: %s\n%s\n", path, text)
		}
	}
	return nil
}

func readYaml(path string, into interface{}) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// loadValues reads values as helm does (YAML through JSON, so numbers are float64), merges the
// files over values.yaml, then applies the --set assignments.
func loadValues(chartDir string, files, sets []string) (map[string]interface{}, error) {
	values := map[string]interface{}{}
	for _, path := range append([]string{filepath.Join(chartDir, "values.yaml")}, files...) {
		var raw interface{}
		if err := readYaml(path, &raw); err != nil {
			return nil, err
		}
		layer, err := viaJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if m, ok := layer.(map[string]interface{}); ok {
			merge(values, m)
		} else if layer != nil {
			return nil, fmt.Errorf("%s: not a mapping", path)
		}
	}
	for _, s := range sets {
		key, value, ok := strings.Cut(s, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("--set %q: expected a.b.c=value", s)
		}
		setPath(values, strings.Split(key, "."), scalar(value))
	}
	return values, nil
}

func viaJSON(v interface{}) (interface{}, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out interface{}
	err = json.Unmarshal(data, &out)
	return out, err
}

// merge copies src into dst; mappings merge key by key, anything else replaces.
func merge(dst, src map[string]interface{}) {
	for k, v := range src {
		sub, isMap := v.(map[string]interface{})
		if existing, ok := dst[k].(map[string]interface{}); ok && isMap {
			merge(existing, sub)
			continue
		}
		dst[k] = v
	}
}

func setPath(m map[string]interface{}, keys []string, v interface{}) {
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]interface{})
		if !ok {
			next = map[string]interface{}{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = v
}

func scalar(s string) interface{} {
	switch s {
	case "true":
		return true
	case "false":
		return false
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return float64(i)
	}
	return s
}

// parseTemplates parses every file under DIR/templates into one set, each named
// CHART/templates/RELATIVE-PATH, and returns the names sorted.
func parseTemplates(chartDir, chartName string) (*template.Template, []string, error) {
	root := template.New("chart").Option("missingkey=error")
	funcs := sprig.TxtFuncMap()
	for k, v := range helmFuncs(root) {
		funcs[k] = v
	}
	root.Funcs(funcs)
	var paths []string
	dir := filepath.Join(chartDir, "templates")
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		name := chartName + "/templates/" + filepath.ToSlash(rel)
		if _, err := root.New(name).Parse(string(data)); err != nil {
			return err
		}
		paths = append(paths, name)
		return nil
	})
	sort.Strings(paths)
	return root, paths, err
}

// helmFuncs are the functions helm adds to sprig (helm's pkg/engine/funcs.go and engine.go).
func helmFuncs(root *template.Template) template.FuncMap {
	return template.FuncMap{
		"include": func(name string, data interface{}) (string, error) {
			var buf bytes.Buffer
			err := root.ExecuteTemplate(&buf, name, data)
			return buf.String(), err
		},
		"tpl": func(text string, data interface{}) (string, error) {
			t, err := root.Clone()
			if err != nil {
				return "", err
			}
			if _, err := t.New("tpl").Parse(text); err != nil {
				return "", err
			}
			var buf bytes.Buffer
			err = t.ExecuteTemplate(&buf, "tpl", data)
			return buf.String(), err
		},
		"required": func(message string, v interface{}) (interface{}, error) {
			if v == nil {
				return nil, errors.New(message)
			}
			if s, ok := v.(string); ok && s == "" {
				return nil, errors.New(message)
			}
			return v, nil
		},
		"toYaml": func(v interface{}) string {
			var buf bytes.Buffer
			enc := yaml.NewEncoder(&buf)
			enc.SetIndent(2)
			if err := enc.Encode(v); err != nil {
				return ""
			}
			return strings.TrimSuffix(buf.String(), "\n")
		},
		"fromYaml": func(s string) map[string]interface{} {
			m := map[string]interface{}{}
			if err := yaml.Unmarshal([]byte(s), &m); err != nil {
				m["Error"] = err.Error()
			}
			return m
		},
		"toJson": func(v interface{}) string {
			data, err := json.Marshal(v)
			if err != nil {
				return ""
			}
			return string(data)
		},
	}
}

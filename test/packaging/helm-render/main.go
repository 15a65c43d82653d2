// helm-render renders a Helm chart the way `helm template` does, for tests on hosts without
// helm: Go text/template with sprig, Helm's include/tpl/toYaml/fromYaml/required/fail,
// .Values from values.yaml deep-merged with --values files and --set overrides, .Release,
// .Chart, .Capabilities and .Template. Objects are printed in Helm's install order.
//
//	helm-render [--name RELEASE] [--namespace NS] [--values FILE]... [--set a.b=c]... CHART_DIR
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig" // v3 (GOPATH mode: Debian golang-github-masterminds-sprig-dev)
	"gopkg.in/yaml.v3"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// Helm's InstallOrder for the kinds a chart like this produces.
var installOrder = []string{
	"Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy", "PodDisruptionBudget",
	"ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass", "PersistentVolume",
	"PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole", "ClusterRoleList",
	"ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList",
	"Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
	"HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService",
}

func main() {
	var sets, valueFiles listFlag
	name := flag.String("name", "flowscope", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	flag.Var(&sets, "set", "a.b=value override (repeatable)")
	flag.Var(&valueFiles, "values", "values file merged over the chart's (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: helm-render [--name R] [--namespace NS] [--values F]... [--set k=v]... CHART_DIR")
		os.Exit(2)
	}
	out, err := render(flag.Arg(0), *name, *namespace, valueFiles, sets)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
	os.Stdout.WriteString(out)
}

func readYAMLMap(path string) (map[string]interface{}, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// mergeValues deep-merges src over dst; a null in src deletes the key, as in Helm.
func mergeValues(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		srcMap, srcIsMap := v.(map[string]interface{})
		dstMap, dstIsMap := dst[k].(map[string]interface{})
		if srcIsMap && dstIsMap {
			dst[k] = mergeValues(dstMap, srcMap)
		} else {
			dst[k] = v
		}
	}
	return dst
}

// parseSet turns "a.b=c,d=e" into nested maps with typed scalars (Helm's --set for plain keys).
func parseSet(expr string) (map[string]interface{}, error) {
	out := map[string]interface{}{}
	for _, pair := range strings.Split(expr, ",") {
		eq := strings.IndexByte(pair, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("--set %q: want key=value", pair)
		}
		keys := strings.Split(pair[:eq], ".")
		var value interface{} = pair[eq+1:]
		switch s := pair[eq+1:]; {
		case s == "true" || s == "false":
			value = s == "true"
		case s == "null":
			value = nil
		default:
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				value = n
			}
		}
		node := out
		for _, k := range keys[:len(keys)-1] {
			child, ok := node[k].(map[string]interface{})
			if !ok {
				child = map[string]interface{}{}
				node[k] = child
			}
			node = child
		}
		node[keys[len(keys)-1]] = value
	}
	return out, nil
}

func toYAML(v interface{}) string {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

type apiVersions []string

func (a apiVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

// chartMetadata maps Chart.yaml keys to Helm's field names (apiVersion → APIVersion, name → Name).
func chartMetadata(raw map[string]interface{}) map[string]interface{} {
	meta := map[string]interface{}{}
	for k, v := range raw {
		switch k {
		case "apiVersion":
			meta["APIVersion"] = v
		default:
			meta[strings.ToUpper(k[:1])+k[1:]] = v
		}
	}
	return meta
}

func render(chartDir, releaseName, namespace string, valueFiles, sets []string) (string, error) {
	chartRaw, err := readYAMLMap(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return "", err
	}
	chart := chartMetadata(chartRaw)
	chartName, _ := chart["Name"].(string)
	values, err := readYAMLMap(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return "", err
	}
	for _, f := range valueFiles {
		extra, err := readYAMLMap(f)
		if err != nil {
			return "", err
		}
		values = mergeValues(values, extra)
	}
	for _, s := range sets {
		extra, err := parseSet(s)
		if err != nil {
			return "", err
		}
		values = mergeValues(values, extra)
	}

	root := template.New("chart").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	depth := map[string]int{}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		if depth[name] > 1000 {
			return "", fmt.Errorf("include %q: recursion too deep", name)
		}
		depth[name]++
		defer func() { depth[name]-- }()
		var buf strings.Builder
		err := root.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf strings.Builder
		err = t.Execute(&buf, data)
		return strings.ReplaceAll(buf.String(), "<no value>", ""), err
	}
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = fromYAML
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return nil, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return nil, errors.New(msg)
		}
		return v, nil
	}
	funcs["fail"] = func(msg string) (string, error) { return "", errors.New(msg) }
	funcs["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	root.Funcs(funcs)

	templatesDir := filepath.Join(chartDir, "templates")
	entries, err := os.ReadDir(templatesDir)
	if err != nil {
		return "", err
	}
	var files []string
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".tpl") || strings.HasSuffix(e.Name(), ".txt")) {
			continue
		}
		name := chartName + "/templates/" + e.Name()
		text, err := os.ReadFile(filepath.Join(templatesDir, e.Name()))
		if err != nil {
			return "", err
		}
		if _, err := root.New(name).Parse(string(text)); err != nil {
			return "", err
		}
		if !strings.HasPrefix(e.Name(), "_") && strings.HasSuffix(e.Name(), ".yaml") {
			files = append(files, name)
		}
	}
	sort.Strings(files)

	type doc struct {
		source, kind, name, text string
	}
	var docs []doc
	separator := regexp.MustCompile(`(?m)^---\s*$`)
	for _, name := range files {
		data := map[string]interface{}{
			"Values":       values,
			"Chart":        chart,
			"Release":      map[string]interface{}{"Name": releaseName, "Namespace": namespace, "Service": "Helm", "IsInstall": true, "IsUpgrade": false, "Revision": 1},
			"Capabilities": map[string]interface{}{"KubeVersion": map[string]interface{}{"Version": "v1.30.0", "Major": "1", "Minor": "30", "GitVersion": "v1.30.0"}, "APIVersions": apiVersions{"v1", "apps/v1", "rbac.authorization.k8s.io/v1"}},
			"Template":     map[string]interface{}{"Name": name, "BasePath": chartName + "/templates"},
		}
		var buf strings.Builder
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		for _, part := range separator.Split(text, -1) {
			if strings.TrimSpace(stripComments(part)) == "" {
				continue
			}
			var head struct {
				Kind     string `yaml:"kind"`
				Metadata struct {
					Name string `yaml:"name"`
				} `yaml:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(part), &head); err != nil {
				return "", fmt.Errorf("%s: rendered YAML does not parse: %w\n%s", name, err, part)
			}
			docs = append(docs, doc{source: name, kind: head.Kind, name: head.Metadata.Name, text: strings.Trim(part, "\n")})
		}
	}
	rank := func(kind string) int {
		for i, k := range installOrder {
			if k == kind {
				return i
			}
		}
		return len(installOrder)
	}
	sort.SliceStable(docs, func(i, j int) bool {
		if rank(docs[i].kind) != rank(docs[j].kind) {
			return rank(docs[i].kind) < rank(docs[j].kind)
		}
		return docs[i].name < docs[j].name
	})
	var out strings.Builder
	for _, d := range docs {
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", d.source, d.text)
	}
	return out.String(), nil
}

func stripComments(s string) string {
	var kept []string
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "\n")
}

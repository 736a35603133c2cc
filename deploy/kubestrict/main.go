// Command kubestrict decodes Kubernetes manifests (YAML documents on
// stdin, as helm template prints them) into the Go types of k8s.io/api,
// refusing unknown fields and values of the wrong type: a misspelt key
// (readOnlyRootFileSystem) that the OpenAPI schemas let through, since
// they allow any extra field, is an error here, as the API server's
// strict field validation would make it.
//
// It is a module of its own so that runbot's go.mod does not carry
// Kubernetes' libraries; .ci/run builds it for the chart's tests
// (RUNBOT_KUBESTRICT). Kinds without a Go type here (the CRDs of
// prometheus-operator) are reported as such and left to the schemas.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

func main() {
	os.Exit(run(os.Stdin, os.Stdout))
}

// types are the kinds the chart renders, by apiVersion and kind.
func newObject(apiVersion, kind string) any {
	switch apiVersion + " " + kind {
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}
	case "v1 Secret":
		return &corev1.Secret{}
	case "v1 Service":
		return &corev1.Service{}
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}
	case "v1 PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	case "networking.k8s.io/v1 Ingress":
		return &networkingv1.Ingress{}
	}
	return nil
}

func run(in io.Reader, out io.Writer) int {
	docs, err := split(in)
	if err != nil {
		fmt.Fprintln(out, "reading manifests:", err)
		return 1
	}
	failed, checked := 0, 0
	for _, doc := range docs {
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			fmt.Fprintln(out, "decoding a manifest:", err)
			failed++
			continue
		}
		if meta.Kind == "" {
			continue // an empty document
		}
		name := meta.Kind + "/" + meta.Metadata.Name
		obj := newObject(meta.APIVersion, meta.Kind)
		if obj == nil {
			fmt.Fprintf(out, "%s: no Go type for %s, left to the schemas\n", name, meta.APIVersion)
			continue
		}
		if err := decodeStrict(doc, obj); err != nil {
			fmt.Fprintf(out, "%s: %v\n", name, err)
			failed++
			continue
		}
		fmt.Fprintf(out, "%s: no unknown field\n", name)
		checked++
	}
	fmt.Fprintf(out, "%d strict, %d invalid\n", checked, failed)
	if failed > 0 || checked == 0 {
		return 1
	}
	return 0
}

// decodeStrict decodes as the API server does: field names match exactly
// (encoding/json would take readOnlyRootFileSystem for
// readOnlyRootFilesystem), and an unknown or repeated field is an error.
func decodeStrict(doc []byte, obj any) error {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return fmt.Errorf("converting to JSON: %w", err)
	}
	strict, err := kjson.UnmarshalStrict(js, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return fmt.Errorf("decoding: %w", err)
	}
	return errors.Join(strict...)
}

// split cuts a stream of YAML documents at its "---" lines.
func split(in io.Reader) ([][]byte, error) {
	var docs [][]byte
	var cur bytes.Buffer
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimRight(line, " ") == "---" {
			docs = append(docs, bytes.Clone(cur.Bytes()))
			cur.Reset()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, errors.Join(errors.New("scanning"), err)
	}
	return append(docs, cur.Bytes()), nil
}

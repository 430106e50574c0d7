package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cuegate/cuegate/e2e/hydra"
)

// journeyConfig is the operator's configuration for the journey: the guide's
// API with JWT auth against Hydra, a portal catalogue entry registering
// clients at Hydra, a low-rate "basic" policy for portal clients, and a
// "gold" policy, reachable only through a token's pol claim, that also
// grants the premium API.
const journeyConfig = `package journey

gateway: {
	listen:        "127.0.0.1:%[1]d"
	portal_listen: "127.0.0.1:%[2]d"
	admin_listen:  "127.0.0.1:%[3]d"
}

idps: hydra: {
	issuer:    "%[4]s/"
	discovery: "%[4]s/.well-known/openid-configuration"
	algorithms: ["RS256", "ES256"]
	leeway: "5s"
}

apis: echo: {
	name:        "Echo API"
	listen_path: "/echo/"
	upstream: targets: ["%[5]s"]
	auth: jwt: {
		idp:            "hydra"
		identity_claim: "client_id"
		policy_claim:   "pol"
		default_policies: []
	}
}

apis: premium: {
	name:        "Premium API"
	listen_path: "/premium/"
	upstream: targets: ["%[5]s"]
	auth: jwt: {
		idp: "hydra"
		default_policies: []
	}
}

policies: basic: {
	name: "Basic"
	access: echo: {}
	rate: {requests: 5, per: "10s"}
	quota: {max: 1000, period: "24h"}
	key_expires_in: "1h"
}

policies: gold: {
	name: "Gold"
	access: {echo: {}, premium: {}}
	rate: {requests: 1000, per: "1s"}
}

portal: {
	signup: "open"
	catalogue: echo: {
		name:        "Echo API"
		description: "Echoes requests; clients are registered at Ory Hydra."
		api:         "echo"
		policy:      "basic"
		openapi:     "echo.openapi.yaml"
		dcr: {
			provider: "hydra"
			grant_types: ["client_credentials"]
			token_endpoint_auth_method: "client_secret_post"
			response_types: ["token"]
			idp_host:              "%[4]s/"
			registration_endpoint: "%[4]s/oauth2/register"
			token_endpoint:        "%[4]s/oauth2/token"
		}
	}
	// An entry Hydra refuses to register clients for: private_key_jwt
	// without a JWKS. The developer must see Hydra's own error.
	catalogue: echo_pkjwt: {
		name:   "Echo API (private_key_jwt)"
		api:    "echo"
		policy: "basic"
		dcr: {
			provider: "hydra"
			grant_types: ["client_credentials"]
			token_endpoint_auth_method: "private_key_jwt"
			response_types: ["token"]
			idp_host:              "%[4]s/"
			registration_endpoint: "%[4]s/oauth2/register"
			token_endpoint:        "%[4]s/oauth2/token"
		}
	}
}
`

// echoOpenAPI is the Echo API's OpenAPI document, which the portal shows
// as its reference.
const echoOpenAPI = `openapi: 3.1.0
info:
  title: Echo
  version: "1.0"
  description: Answers every request with what it received.
tags:
  - name: echo
    description: Echoing requests.
paths:
  /{path}:
    get:
      tags: [echo]
      summary: Echo a GET
      parameters:
        - {name: path, in: path, required: true, schema: {type: string}}
        - {name: x, in: query, description: Any value, schema: {type: integer}}
      responses:
        "200":
          description: What the upstream saw.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Echo"}
    post:
      tags: [echo]
      summary: Echo a POST
      parameters:
        - {name: path, in: path, required: true, schema: {type: string}}
      requestBody:
        content:
          application/json:
            schema: {type: object, additionalProperties: true}
      responses:
        "200":
          description: What the upstream saw.
components:
  schemas:
    Echo:
      type: object
      required: [method, path]
      properties:
        method: {type: string, description: The request's method.}
        path: {type: string}
        query: {type: string}
`

// hotConfig is the file the hot-swap step adds: a keyless API.
const hotConfig = `package journey

apis: hot: {
	name:        "Hot API"
	listen_path: "/hot/"
	upstream: targets: ["%s"]
	auth: keyless: true
}
`

// journey is everything TestJourney's steps share.
type journey struct {
	hydra  *hydra.Server
	hook   *tokenHook
	echo   string
	gw     *gateway
	portal *portalClient
}

func startJourney(t *testing.T) *journey {
	t.Helper()
	h, hook := startHydra(t)
	echo := startEcho(t)
	dir := t.TempDir()
	gw, portal, admin := freePort(t), freePort(t), freePort(t)
	cfg := fmt.Sprintf(journeyConfig, gw, portal, admin, h.PublicURL, echo.URL)
	if err := os.WriteFile(filepath.Join(dir, "journey.cue"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "echo.openapi.yaml"), []byte(echoOpenAPI), 0o644); err != nil {
		t.Fatal(err)
	}
	check, err := execOutput(cuegateBinary(t), "compile", "--check", dir)
	if err != nil {
		t.Fatalf("cuegate compile --check: %v\n%s", err, check)
	}
	j := &journey{hydra: h, hook: hook, echo: echo.URL}
	j.gw = startCuegate(t, dir, filepath.Join(t.TempDir(), "state.json"), gw, portal, admin)
	j.portal = newPortalClient(t, j.gw.PortalURL)
	return j
}

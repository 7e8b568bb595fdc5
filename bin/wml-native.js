#!/usr/bin/env node
'use strict'
// The wml-native command line: an access token, or one scoring call, from a shell.
//
// The API key is read from IBMCLOUD_API_KEY or a file, never from the command
// line (which other users can see in `ps` and which lands in shell history),
// and no message this program prints ever contains it.
const fs = require('node:fs')
const { parseArgs } = require('node:util')
// The error classes only (no native code), so errors can be told apart even
// when the addon is never loaded.
const { WmlNativeError } = require('../lib/errors')

const EXIT_OK = 0
const EXIT_FAILED = 1 // the service or the network failed
const EXIT_USAGE = 2 // the command line, the key or the input is wrong

const DEFAULT_WML_URL = 'https://us-south.ml.cloud.ibm.com'

const HELP = {
  main: `Usage: wml-native <command> [options]

IBM Cloud IAM tokens and Watson Machine Learning scoring from the shell.

Commands:
  token                      print an access token (IAM API key, trusted profile,
                             Cloud Pak for Data, ...: see wml-native token --help)
  score <deployment-id> <payload.json|->
                             score a deployment and print the response JSON
  help [command]             show help for a command

Options:
  -h, --help                 show this help (or a command's: wml-native token --help)
  --version                  print the wml-native version

The API key is read from the IBMCLOUD_API_KEY environment variable, or from the
first line of the file given with --apikey-file. It is never accepted as a
command-line argument: command lines are visible to other users (ps) and are
saved in shell history.

Exit codes:
  0  success
  1  the service or the network failed (IAM or WML error, timeout, TLS, ...)
  2  usage error: unknown command or option, missing argument, missing API key,
     unreadable or invalid payload file
`,

  token: `Usage: wml-native token [--json] [--apikey-file FILE] [--iam-url URL] [--service NAME]

Prints an access token, for use as "Authorization: Bearer <token>": an IAM token
for an API key, or the token of any credential IBM's SDKs configure with
<NAME>_* settings (trusted profiles, Cloud Pak for Data, ...).

Where the credential comes from, the first of:
  --apikey-file FILE         an IBM Cloud API key, the first line of FILE
                             (with bash, --apikey-file <(your-secret-tool) works too)
  --service NAME             the NAME's settings, as ibm-cloud-sdk-core reads them
                             (environment, ibm-credentials.env, VCAP_SERVICES):
                             NAME_AUTH_TYPE = iam, container, vpc, cp4d, iamassume,
                             mcsp, bearertoken or noauth, with NAME_APIKEY,
                             NAME_AUTH_URL, NAME_CR_TOKEN_FILENAME, NAME_IAM_PROFILE_ID,
                             NAME_IAM_PROFILE_NAME, NAME_IAM_PROFILE_CRN,
                             NAME_IAM_ACCOUNT_ID, NAME_USERNAME, NAME_PASSWORD,
                             NAME_BEARER_TOKEN, NAME_AUTH_DISABLE_SSL, ...
  IBMCLOUD_API_KEY           an IBM Cloud API key in the environment
  the WML_* settings         as --service WML, when any WML_ setting exists

Options:
  --json                     print the token details (expiry, scope, ...) as JSON
  --iam-url URL              IAM base URL for an API key (default https://iam.cloud.ibm.com;
                             with --service, set NAME_AUTH_URL instead)
  -h, --help                 show this help

Examples:
  curl -H "Authorization: Bearer $(wml-native token)" ...
  WML_AUTH_TYPE=container WML_IAM_PROFILE_NAME=my-profile wml-native token
  CPD_AUTH_TYPE=cp4d CPD_URL=https://cpd.example.com CPD_USERNAME=admin \\
    CPD_PASSWORD="$(your-secret-tool)" wml-native token --service cpd

Exit codes: 0 success, 1 token service or network failure, 2 usage error or no
credential.
`,

  score: `Usage: wml-native score <deployment-id> <payload.json|-> [options]

Scores a Watson Machine Learning deployment (POST /ml/v4/deployments/{id}/predictions)
and prints the response JSON. The payload is a JSON file such as
  {"input_data": [{"fields": ["AGE", "INCOME"], "values": [[32, 5400]]}]}
or "-" to read it from standard input.

Options:
  --url URL                  service URL (default: the WML_URL environment
                             variable, else ${DEFAULT_WML_URL})
  --iam-url URL              IAM base URL (default https://iam.cloud.ibm.com)
  --version DATE             API version date, YYYY-MM-DD (default: the package's)
  --timeout MS               bound on the whole call, in milliseconds (default 60000)
  --apikey-file FILE         read the API key from the first line of FILE
                             (default: the IBMCLOUD_API_KEY environment variable)
  -h, --help                 show this help

Example:
  wml-native score my-deployment payload.json
  echo '{"input_data":[{"values":[[1,2]]}]}' | wml-native score my-deployment -

Exit codes: 0 success, 1 the service or the network failed (the error code,
status and service error codes are printed), 2 usage error, no API key, or an
unreadable or invalid payload.
`,
}

/** A mistake on the command line or in its inputs: exit code 2. */
class UsageError extends Error {}

/** Where a usage error points to; set once the command is known. */
let helpCommand = 'wml-native --help'

const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  'apikey-file': { type: 'string' },
  'iam-url': { type: 'string' },
}

const COMMANDS = {
  token: {
    options: { ...COMMON_OPTIONS, json: { type: 'boolean' }, service: { type: 'string' } },
    run: runToken,
  },
  score: {
    options: { ...COMMON_OPTIONS, url: { type: 'string' }, version: { type: 'string' }, timeout: { type: 'string' } },
    run: runScore,
  },
}

// ------------------------------------------------------------------ commands

async function runToken(values, positionals) {
  if (positionals.length > 0) {
    // Not echoed: a stray argument here may well be a pasted API key.
    throw new UsageError('token takes no arguments; the API key comes from IBMCLOUD_API_KEY or --apikey-file FILE')
  }
  const authenticator = tokenAuthenticator(values)
  if (values.json) {
    print(JSON.stringify(await authenticator.getTokenInfo(), null, 2))
  } else {
    print(await authenticator.getToken())
  }
}

/** The authenticator the token command uses (see its help for the order). */
function tokenAuthenticator(values) {
  const service = values.service
  if (service !== undefined && values['apikey-file'] === undefined) {
    if (!/^[A-Za-z][\w-]{0,63}$/.test(service)) throw new UsageError('--service must be a name like WML or my-service')
    if (values['iam-url']) throw new UsageError(`--iam-url is for an API key; with --service set ${service.toUpperCase().replace(/-/g, '_')}_AUTH_URL`)
    return library().getAuthenticatorFromEnv(service)
  }
  if (values['apikey-file'] === undefined && !(process.env.IBMCLOUD_API_KEY || '').trim() && require('../lib/env').hasSettings('WML')) {
    return library().getAuthenticatorFromEnv('WML')
  }
  const apikey = readApikey(values)
  const { IamAuthenticator } = library()
  return new IamAuthenticator({ apikey, url: values['iam-url'] || undefined })
}

async function runScore(values, positionals) {
  if (positionals.length !== 2) {
    throw new UsageError(
      positionals.length < 2
        ? 'score needs a deployment id and a payload file (or - for standard input)'
        : `score takes 2 arguments, got ${positionals.length}`,
    )
  }
  const [deploymentId, payloadPath] = positionals
  const version = values.version
  if (version !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(version)) {
    throw new UsageError('--version must be an API version date, YYYY-MM-DD (for the program version use: wml-native --version)')
  }
  let timeoutMs
  if (values.timeout !== undefined) {
    timeoutMs = Number(values.timeout)
    if (!/^\d+$/.test(values.timeout) || timeoutMs <= 0) throw new UsageError('--timeout must be a whole number of milliseconds > 0')
  }
  const url = values.url || process.env.WML_URL || DEFAULT_WML_URL
  if (!URL.canParse(url)) throw new UsageError(`${values.url ? '--url' : 'WML_URL'} is not a valid URL`)

  // Inputs are checked before anything is sent: the key, then the payload.
  const apikey = readApikey(values)
  const payload = await readPayload(payloadPath)

  const { WmlClient } = library()
  const client = new WmlClient({ url, apikey, iamUrl: values['iam-url'] || undefined, version })
  // The file's own bytes are sent (already checked to be a JSON object), so
  // numbers keep their exact text: no JSON.parse round trip.
  const response = await client.score(deploymentId, payload, { timeoutMs })
  print(JSON.stringify(response, null, 2))
}

// ------------------------------------------------------------------ inputs

/** The API key from --apikey-file's first line, else IBMCLOUD_API_KEY. */
function readApikey(values) {
  const file = values['apikey-file']
  if (file !== undefined) {
    let text
    try {
      text = fs.readFileSync(file, 'utf8')
    } catch (e) {
      throw new UsageError(`cannot read --apikey-file ${file} (${e.code || 'error'})`)
    }
    const key = text.split(/\r?\n/, 1)[0].trim()
    if (!key) throw new UsageError(`--apikey-file ${file}: the first line is empty`)
    return key
  }
  const key = (process.env.IBMCLOUD_API_KEY || '').trim()
  if (!key) {
    throw new UsageError(
      'no API key: set the IBMCLOUD_API_KEY environment variable, or pass --apikey-file FILE' +
        (helpCommand.includes('token') ? ' (or configure another credential: --service NAME with NAME_AUTH_TYPE, see --help)' : ''),
    )
  }
  return key
}

/** The payload file's bytes (or stdin's for "-"), checked to be a JSON object. */
async function readPayload(file) {
  const name = file === '-' ? 'the payload on standard input' : file
  let bytes
  if (file === '-') {
    if (process.stdin.isTTY) process.stderr.write('reading the payload from standard input (end it with Ctrl-D)\n')
    const chunks = []
    for await (const chunk of process.stdin) chunks.push(chunk)
    bytes = Buffer.concat(chunks)
  } else {
    try {
      bytes = fs.readFileSync(file)
    } catch (e) {
      throw new UsageError(`cannot read the payload file ${file} (${e.code || 'error'})`)
    }
  }
  const text = bytes.toString('utf8')
  let value
  try {
    value = JSON.parse(text)
  } catch (e) {
    // JSON.parse's message may quote the input; only the position is kept
    // (the file could be a key file passed by mistake).
    throw new UsageError(`${name} is not valid JSON${jsonErrorPlace(e, text)}`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError(`${name} must be a JSON object like {"input_data": [...]}`)
  }
  return bytes
}

/** " (line L, column C)" from a JSON.parse error, when it gives a position. */
function jsonErrorPlace(err, text) {
  const message = String(err && err.message)
  if (text.trim() === '') return ' (it is empty)'
  if (message.includes('Unexpected end')) return ' (it ends too early)'
  const m = /position (\d+)/.exec(message)
  if (!m) return ''
  const before = text.slice(0, Number(m[1])).split('\n')
  return ` (line ${before.length}, column ${before[before.length - 1].length + 1})`
}

// ------------------------------------------------------------------ plumbing

/** The package, loaded only when a command needs it (help works without the native addon). */
function library() {
  return require('..')
}

function print(text) {
  process.stdout.write(text + '\n')
}

/** Refuses --apikey (and spellings of it) before anything else looks at argv. */
function refuseKeyOnCommandLine(argv) {
  for (const arg of argv) {
    if (arg === '--') break
    if (/^--?api[-_]?key(=|$)/i.test(arg)) {
      throw new UsageError(
        `${arg.split('=')[0]} is not accepted: an API key on the command line is visible to other users ` +
          '(ps, /proc) and is saved in your shell history. Set the IBMCLOUD_API_KEY environment variable ' +
          'or use --apikey-file FILE instead, and consider rotating a key that was typed on a command line.',
      )
    }
  }
}

function parse(options, args) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch (e) {
    // parseArgs' messages name the option, never its value; but an unknown
    // "option" may itself be a pasted key (keys can start with "--"), so a
    // long one is not repeated, as for unknown commands.
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const option = /^Unknown option '([^']*)'/.exec(e.message)
      if (!option || safeWord(option[1]) === '(not shown)') throw new UsageError('unknown option (not shown)')
    }
    throw new UsageError(e.message)
  }
}

/** Runs the command line; resolves to the exit code. */
async function main(argv) {
  refuseKeyOnCommandLine(argv)
  const [command, ...rest] = argv
  if (command === undefined) {
    process.stderr.write(HELP.main)
    return EXIT_USAGE
  }
  if (command === '-h' || command === '--help') {
    print(HELP.main.trimEnd())
    return EXIT_OK
  }
  if (command === '--version') {
    print(require('../package.json').version)
    return EXIT_OK
  }
  if (command === 'help') {
    const topic = rest[0]
    if (topic !== undefined && !Object.hasOwn(COMMANDS, topic)) {
      throw new UsageError(`no help for ${safeWord(topic)}; commands: token, score`)
    }
    print(HELP[topic ?? 'main'].trimEnd())
    return EXIT_OK
  }
  if (!Object.hasOwn(COMMANDS, command)) {
    throw new UsageError(
      command.startsWith('-')
        ? `options go after the command, e.g. wml-native token ${safeWord(command)}`
        : `unknown command ${safeWord(command)}; commands: token, score`,
    )
  }
  helpCommand = `wml-native ${command} --help`
  const { values, positionals } = parse(COMMANDS[command].options, rest)
  if (values.help) {
    print(HELP[command].trimEnd())
    return EXIT_OK
  }
  await COMMANDS[command].run(values, positionals)
  return EXIT_OK
}

/** Quotes a short word from argv; anything longer could be a misplaced key, so it is not repeated. */
function safeWord(arg) {
  return /^-{0,2}[\w-]{1,20}$/.test(arg) ? `"${arg}"` : '(not shown)'
}

/** Prints an error; returns the exit code for it. */
function report(err) {
  if (err instanceof UsageError) {
    process.stderr.write(`wml-native: ${err.message}\nRun "${helpCommand}" for usage.\n`)
    return EXIT_USAGE
  }
  if (err instanceof WmlNativeError) {
    // One of the package's errors: none carries a key or a token.
    const lines = [`error ${err.code}: ${err.message}`]
    if (err.status !== undefined) lines.push(`  status: ${err.status}`)
    if (Array.isArray(err.errors) && err.errors.length > 0) {
      lines.push(`  service errors: ${err.errors.map((e) => e && e.code).filter(Boolean).join(', ')}`)
    }
    if (err.iamErrorCode) lines.push(`  IAM error code: ${err.iamErrorCode}`)
    if (err.service) lines.push(`  token service: ${err.service}`)
    if (err.errorCode) lines.push(`  service error code: ${err.errorCode}`)
    if (err.requestId) lines.push(`  request id: ${err.requestId}`)
    if (err.trace) lines.push(`  trace: ${err.trace}`)
    process.stderr.write(lines.join('\n') + '\n')
    // A bad argument was caught before anything was sent: a usage error.
    return err.code === 'ERR_INVALID_ARG' ? EXIT_USAGE : EXIT_FAILED
  }
  process.stderr.write(`error: ${(err && err.stack) || err}\n`)
  return EXIT_FAILED
}

// Exit through exitCode, so output written to a pipe is flushed first.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err) => {
    process.exitCode = report(err)
  },
)

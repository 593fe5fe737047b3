// `gitgate mcp`: the command line of the stdio MCP relay (cli/mcp-bridge.ts, loaded only when
// the command runs, so other commands never load the MCP SDK).
import { Command } from 'commander';
import { HelperError } from './credential.js';

const DEFAULT_SERVER = 'http://127.0.0.1:8080';

const HELP = `
Configure an MCP client (Claude Code, …) to run this command; it relays to the server's /mcp
endpoint, where every tool call is checked exactly like the REST API. Prefer GITGATE_TOKEN in
the environment to --token (command lines are visible to other local users).`;

export function mcpCommand(program: Command): Command {
  return program
    .command('mcp')
    .description('Model Context Protocol server over stdio for a local agent (relays to <server>/mcp)')
    .option('--server <url>', `the gitgate server (default: env GITGATE_URL, else ${DEFAULT_SERVER})`)
    .option('--token <secret>', 'the gitgate token (default: env GITGATE_TOKEN, then the file in env GITGATE_TOKEN_FILE)')
    .option('--token-file <path>', 'read the token from this file')
    .option('--allow-http', 'allow sending the token over plain http to a server that is not loopback')
    .addHelpText('after', HELP)
    .action(async (opts: { server?: string; token?: string; tokenFile?: string; allowHttp?: boolean }) => {
      try {
        const server = opts.server ?? process.env.GITGATE_URL ?? DEFAULT_SERVER;
        await (await import('./mcp-bridge.js')).runMcpBridge({ ...opts, server });
      } catch (err) {
        if (!(err instanceof HelperError)) throw err;
        process.stderr.write(`gitgate mcp: ${err.message}\n`);
        process.exitCode = 1;
      }
    });
}

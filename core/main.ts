// `npm start` entry: runs the gateway with config.yaml and the environment.
import { main } from './cli.js';

await main();

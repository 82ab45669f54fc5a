// Entry of npm run model:train (see train.ts).
import { main } from './train.js';

await main();

// The signals plugin's error codes.
import { defineErrors } from '../../core/errors.js';

export const SIGNALS_ERRORS = defineErrors('TG_ERR_', {
  TG_ERR_MODEL_INVALID: { status: 422, message: 'The model file was refused (the reason follows); the model loaded before keeps serving: fix the file and reload' },
  TG_ERR_MODEL_UNAVAILABLE: { status: 503, message: 'No signal model is loaded in this shard yet (it restarted onto a model file that does not load): the gateway hands it the model it serves within seconds; retry then' },
  TG_ERR_INFERENCE_FAILED: { status: 500, message: 'The signal model failed on this candle: the channel stays open and the next candle is tried again; the operator finds the cause in the log' },
  TG_ERR_HISTORY_UNSUPPORTED: { status: 422, message: 'The loaded model takes a feature that candle history does not carry (book_imbalance), so its history cannot be computed: use the live channel, or load a model without that feature' },
  TG_ERR_HISTORY_BUSY: { status: 503, message: 'Too many signal history requests are queued: retry in a few seconds' },
});

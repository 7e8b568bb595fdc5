'use strict'
// wml-native: IBM Cloud IAM tokens and Watson Machine Learning scoring.
module.exports = {
  ...require('./lib/iam'),
  ...require('./lib/errors'),
}
delete module.exports.fromNative
delete module.exports.rethrow
delete module.exports.invalid

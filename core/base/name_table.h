/* Defining a plain name table (base/names.h, which the includer includes)
 * over an array designated by its enum's values: the files that define one
 * include this. */
#ifndef NL_BASE_NAME_TABLE_H
#define NL_BASE_NAME_TABLE_H

/* Defines the name table `var` ("what" its entries are) over `array`,
 * which names each of the enum's `count` values; an array of another
 * length does not compile. */
#define NL_NAME_TABLE(var, what, array, count)                                 \
    _Static_assert(sizeof array / sizeof array[0] == (count), #array ": one " \
                   "entry per value");                                         \
    const nl_name_table var = {what, array, (count), 0}

#endif
